"""``python -m vigil_cli``: the same as the ``vigil`` console script."""

import sys

from vigil_cli.main import main

sys.exit(main())
