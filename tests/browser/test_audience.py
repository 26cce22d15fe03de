"""Audience figures in a real browser: "N reading" on the reader page and the console, and
the organiser's dashboard with its chart (screenshots at 375 and 1280 px)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import log_in, open_console, open_reader

DASHBOARD = "/organise/smw-london-2026/dashboard/"
SHOTS = Path(os.environ.get("AUDIENCE_SHOTS", "/tmp"))

# A plausible hour of history for the live session, ending a minute ago.
HISTORY = """
import datetime as dt, math
from django.utils import timezone
from realtime.models import AudienceMinute
from sessions.models import Session
session = Session.objects.get(slug="like-minds-social-business")
end = timezone.now().replace(second=0, microsecond=0)
for i in range(50):
    if 20 <= i < 23:
        continue  # a gap: no one read for three minutes
    peak = round(40 + 30 * math.sin(i / 8) + i)
    AudienceMinute.objects.update_or_create(
        session=session, minute=end - dt.timedelta(minutes=50 - i),
        defaults={"readers": max(peak - 3, 0), "peak": peak},
    )
"""


def test_a_second_reader_makes_every_page_say_2_reading_and_the_console_is_not_counted(
    new_page, live_server_url
):
    server = live_server_url
    first = open_reader(new_page, server)
    expect(first.locator("#readers-now")).to_have_text("1 reading")
    second = open_reader(new_page, server)
    expect(second.locator("#readers-now")).to_have_text("2 reading")
    expect(first.locator("#readers-now")).to_have_text("2 reading")

    console = open_console(new_page, server)
    expect(console.locator("#readers-now")).to_have_text("2 reading")
    expect(first.locator("#readers-now")).to_have_text("2 reading")  # still: not counted

    second.close()
    expect(first.locator("#readers-now")).to_have_text("1 reading")
    expect(console.locator("#readers-now")).to_have_text("1 reading")


def test_the_organiser_reads_the_dashboard_with_a_chart_readable_without_javascript(
    new_page, live_server_url
):
    server = live_server_url
    server.shell(HISTORY)
    open_reader(new_page, server)
    open_reader(new_page, server)
    shots = []
    for width, height in ((1280, 900), (375, 812)):
        page = new_page(viewport={"width": width, "height": height}, java_script_enabled=False)
        log_in(page, server, "organiser")
        page.goto(server.url + "/organise/smw-london-2026/")
        page.get_by_role("link", name="Dashboard").click()
        page.wait_for_url(server.url + DASHBOARD)
        row = page.locator("tr", has=page.get_by_role("link", name=re.compile("Like Minds")))
        expect(row.locator('[data-figure="readers-now"]')).to_contain_text("2")
        chart = page.get_by_role("img", name=re.compile("Readers of Like Minds"))
        expect(chart).to_be_visible()
        assert chart.locator("desc").text_content().startswith("The most readers at once")
        page.get_by_text("Readers per minute, as a table").first.click()
        expect(page.locator(".chart-table table").first).to_be_visible()
        path = SHOTS / f"audience-dashboard-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert all(path.exists() for path in shots)
