"""The ``vigil`` command-line tool (``vigil silence add|list|expire``); see ``main``."""
