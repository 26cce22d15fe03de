"""An organiser imports a programme from the event's page; readers follow a series live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, open_reader, unique

PROGRAMME = Path(__file__).resolve().parents[1] / "data" / "programmes" / "pretalx-democon.json"
LONDON = "/organise/smw-london-2026/"
NYC_SESSION = "/events/smw-new-york-2026/brands-in-public/"
LONDON_SESSION = "/events/smw-london-2026/like-minds-social-business/"


def test_an_organiser_uploads_previews_and_applies_a_programme(new_page, live_server_url):
    server = live_server_url
    page = new_page()
    log_in(page, server, "organiser")
    page.goto(server.url + LONDON)
    page.get_by_role("link", name="Import a programme").click()
    page.set_input_files("#id_file", str(PROGRAMME))
    page.get_by_role("button", name="Preview the import").click()

    expect(page.locator("#import-summary")).to_contain_text("created")
    expect(page.get_by_role("heading", name="New (", exact=False)).to_be_visible()
    new = page.locator("#new-heading + ul li")
    count = new.count()
    assert count > 0
    expect(page.get_by_text("Nothing has changed yet")).to_be_visible()

    page.get_by_role("button", name="Apply the import").click()
    page.wait_for_url(server.url + LONDON)
    expect(page.locator(".message--success")).to_contain_text(f"{count} created")
    expect(page.locator(".org-table")).to_contain_text("Focused 5thgeneration hardware")

    # The same file again: a preview with nothing new.
    page.get_by_role("link", name="Import a programme").click()
    page.set_input_files("#id_file", str(PROGRAMME))
    page.get_by_role("button", name="Preview the import").click()
    expect(page.locator("#new-heading")).to_have_text("New (0)")


def test_an_organiser_of_new_york_cannot_open_londons_pages(new_page, live_server_url):
    server = live_server_url
    page = new_page()
    log_in(page, server, "organiser-nyc")
    response = page.goto(server.url + LONDON)
    assert response.status == 403


def post_from_console(page, server, session_path: str, text: str) -> None:
    page.goto(server.url + session_path + "console/")
    page.fill("#id_body", text)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#console-entries .console-entry").first).to_contain_text(text)


def test_the_series_stream_brings_every_citys_entries_live(new_page, live_server_url):
    server = live_server_url
    everyone = new_page()
    everyone.goto(server.url + "/series/smw-2026/")
    expect(everyone.locator("[data-series-stream]")).to_have_attribute("data-connection", "live")
    new_york_only = new_page()
    new_york_only.goto(server.url + "/series/smw-2026/?city=smw-new-york-2026")
    stream = new_york_only.locator("[data-series-stream]")
    expect(stream).to_have_attribute("data-connection", "live")

    nyc_blogger = new_page()
    log_in(nyc_blogger, server, "blogger-nyc")
    from_new_york = unique("Full house in New York #SMWNYC")
    post_from_console(nyc_blogger, server, NYC_SESSION, from_new_york)
    london_blogger = new_page()
    log_in(london_blogger, server, "blogger")
    from_london = unique("Meanwhile in London #SMWLDN")
    post_from_console(london_blogger, server, LONDON_SESSION, from_london)

    first = everyone.locator("#entries .stream-item").first
    expect(first).to_contain_text(from_london)
    expect(everyone.locator("#entries")).to_contain_text(from_new_york)
    expect(first.locator(".stream-item__where")).to_contain_text("London")
    expect(new_york_only.locator("#entries .stream-item").first).to_contain_text(from_new_york)
    expect(new_york_only.locator("#entries")).not_to_contain_text(from_london)
    # The hashtag is a link to its page, which spans the archive.
    everyone.locator("#entries .stream-item").first.get_by_role("link", name="#SMWLDN").click()
    expect(everyone.locator("h1")).to_have_text("#smwldn")
    expect(everyone.locator("#main")).to_contain_text(from_london)


CLOCK_SESSION = "/events/smw-new-york-2026/open-mic-by-the-clock/"


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="the clock is a process of its own: its pushes reach the server's readers "
    "through a shared channel layer (Redis), as in production",
)
def test_the_clock_opens_and_closes_a_session_while_readers_watch(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, CLOCK_SESSION)
    status = reader.locator("#session-status .status")
    expect(status).to_have_attribute("data-status", "upcoming")
    move = (
        "from datetime import timedelta; from django.utils import timezone; "
        "from sessions.models import Session; "
        "s = Session.objects.get(slug='open-mic-by-the-clock'); "
        "Session.objects.filter(pk=s.pk).update("
        "starts_at=timezone.now() - timedelta(minutes={start}), "
        "ends_at=timezone.now() - timedelta(minutes={end}))"
    )
    server.shell(move.format(start=1, end=-30))
    assert "started: smw-new-york-2026/open-mic-by-the-clock" in server.manage(
        "run_clock", "--once"
    )
    expect(status).to_have_attribute("data-status", "live")
    server.shell(move.format(start=31, end=1))
    assert "ended: smw-new-york-2026/open-mic-by-the-clock" in server.manage("run_clock", "--once")
    expect(status).to_have_attribute("data-status", "ended")


ORGANISER_PAGES = {
    "your events": "/organise/",
    "event": LONDON,
    "session": LONDON + "sessions/new/",
    "speakers": LONDON + "speakers/",
    "bloggers": LONDON + "bloggers/",
    "import": LONDON + "import/",
}
PUBLIC_PAGES = {"series": "/series/smw-2026/", "tag": "/tags/smw/"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_the_organisers_series_and_tag_pages(
    new_page, live_server_url, scheme
):
    from tests.browser.test_accessibility import scan

    page = new_page(bypass_csp=True)  # axe is injected as an inline script
    found = {
        name: violations
        for name, path in PUBLIC_PAGES.items()
        if (violations := scan(page, live_server_url.url + path, scheme))
    }
    log_in(page, live_server_url, "organiser")
    found |= {
        name: violations
        for name, path in ORGANISER_PAGES.items()
        if (violations := scan(page, live_server_url.url + path, scheme))
    }
    assert found == {}, "\n".join(f"{name}: {'; '.join(v)}" for name, v in found.items())
