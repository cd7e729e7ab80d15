"""Regenerate the status page screenshots of docs/runbook.md ("Status page"): the sample page
(emulator/status_page.py: components, an ongoing incident, 90 days of history) at phone and
desktop widths in headless Chromium.

    PYTHONPATH=layers/vigil:. .venv/bin/python scripts/status_page_screenshots.py
"""

import sys
from pathlib import Path

from emulator.status_page import CHROMIUM, DESKTOP, PHONE, sample_pages, screenshot

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run `make chromium` (as root)", file=sys.stderr)
        return 1
    index = sample_pages()["status/index.html"]
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        target = IMAGES / f"status-page-{name}.png"
        screenshot(index, target, size=size)
        print(f"{target.relative_to(IMAGES.parent.parent)} ({size[0]}x{size[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
