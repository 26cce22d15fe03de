"""Mobile first, checked at 375 and 1280 px; the README's screenshots are made here.

The layout checks always run. With UPDATE_SCREENSHOTS=1 the pages are also written to
docs/screenshots/, so `make test` leaves the tree alone and a refresh is one command:
UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, SESSION, log_in, wait_until_live

SHOTS = ROOT / "docs" / "screenshots"
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def demo(pristine_server):
    """The seeded demo, its entries spread over the half hour the session has been running."""
    pristine_server.shell(
        "import datetime as dt\n"
        "from django.utils import timezone\n"
        "from entries.models import Entry\n"
        "now = timezone.now()\n"
        "entries = Entry.objects.filter(session__slug='like-minds-social-business')\n"
        "for back, entry in enumerate(entries.order_by('-created_seq')):\n"
        "    Entry.objects.filter(pk=entry.pk).update(\n"
        "        created_at=now - dt.timedelta(minutes=2 + 5 * back))\n"
        # Their stored fragments show the time: render them again, as a rename would.
        "from entries.signals import rerender\n"
        "rerender(entries)\n"
    )
    return pristine_server


def save(page, name: str, **options) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), animations="disabled", **options)


def assert_no_sideways_scrolling(page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_the_key_moments_come_first_and_nothing_scrolls_sideways(new_page, demo, scheme):
    page = new_page(**PHONE, color_scheme=scheme, reduced_motion="reduce")
    page.goto(demo.url + SESSION)
    wait_until_live(page)
    expect(page.locator(".entry__time time").first).to_have_text(re.compile(r"^\d+ min ago$"))
    strip, stream = box(page, ".key-moments"), box(page, "#entries")
    assert strip["y"] + strip["height"] <= stream["y"]  # the strip sits above the stream
    assert strip["width"] <= 375
    assert_no_sideways_scrolling(page)
    # The first screen and a little more, to show entries below the strip.
    clip = {"x": 0, "y": 0, "width": 375, "height": 1200}
    save(page, f"session-phone{'-dark' if scheme == 'dark' else ''}.png", full_page=True, clip=clip)


def test_on_a_desktop_the_key_moments_sit_beside_the_stream(new_page, demo):
    page = new_page(**DESKTOP, color_scheme="light", reduced_motion="reduce")
    page.goto(demo.url + SESSION)
    wait_until_live(page)
    expect(page.locator(".entry__time time").first).to_have_text(re.compile(r"^\d+ min ago$"))
    strip, stream = box(page, ".key-moments"), box(page, "#entries")
    assert strip["x"] + strip["width"] <= stream["x"]  # a column of its own, to the left
    assert strip["y"] < stream["y"] + stream["height"]
    assert_no_sideways_scrolling(page)
    save(page, "session-desktop.png")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_console_fits_a_phone_and_a_desktop(new_page, demo, size):
    page = new_page(**size, color_scheme="light", reduced_motion="reduce")
    log_in(page, demo)
    page.goto(demo.url + SESSION + "console/")
    expect(page.locator("#id_body")).to_be_visible()
    assert_no_sideways_scrolling(page)
    if size is DESKTOP:
        compose, posted = box(page, "#compose"), box(page, "#console-entries")
        assert compose["x"] + compose["width"] <= posted["x"]  # side by side
        save(page, "console.png")


def test_the_screenshots_in_the_readme_exist():
    readme = (ROOT / "README.md").read_text()
    for name in ("session-desktop.png", "session-phone.png", "console.png"):
        assert (SHOTS / name).is_file(), f"docs/screenshots/{name} is missing"
        assert f"docs/screenshots/{name}" in readme, f"README.md does not show {name}"
