"""The status pages laid out by headless Chromium at a phone's and a desktop's width: no
horizontal scrolling, readable text, and the page's parts in the DOM Chromium builds.

Widths: 390 px (a current phone's CSS width) and 1280 px. Skipped where Chromium is absent
(``make chromium`` installs it); the HTML and Atom checks in test_status_page.py always run."""

from pathlib import Path

import pytest

from emulator.status_page import CHROMIUM, DESKTOP, PHONE, measure, sample_pages, screenshot

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run `make chromium` (as root)"
)

PAGES = {
    "index": "status/index.html",
    "incident": "status/incidents/manual-lambda-20261206.html",
}


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_page_fits_the_width_without_horizontal_scrolling(
    name: str, size: tuple[int, int]
) -> None:
    scroll, inner, font = measure(sample_pages()[PAGES[name]], size=size)

    assert inner == size[0]
    assert scroll <= inner
    assert font >= 16


def test_the_preview_fits_a_phone_too() -> None:
    page = sample_pages(preview=True)["preview/status/incidents/rehearsal-1.html"]

    scroll, inner, _ = measure(page, size=PHONE)

    assert scroll <= inner


def test_a_screenshot_is_a_png_of_the_window(tmp_path: Path) -> None:
    target = tmp_path / "phone.png"

    screenshot(sample_pages()["status/index.html"], target, size=PHONE)

    header = target.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20]), int.from_bytes(header[20:24])
    assert (width, height) == PHONE


def test_the_measure_sees_a_page_wider_than_the_phone() -> None:
    # The check above would pass vacuously if the frame were not the phone's width.
    wide = '<!doctype html><html><body><div style="width:600px">x</div></body></html>'

    scroll, inner, _ = measure(wide, size=PHONE)

    assert (inner, scroll > inner) == (PHONE[0], True)
