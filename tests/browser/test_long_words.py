"""Long unbroken text wraps: no page grows wider than a phone, no card spills its content.

A session on its own server gets the text that breaks layouts: a 100-character room name
and title with no space, a speaker whose name is 200 characters, and entries (posted
through the API, as a blogger's tool would) of a 2,000-character word, a 500-character
bare URL and 300 emoji. Every page that shows them is measured at 375 and 1280 px.
Screenshots of the session page go to /tmp/shots/ (outside the repository) for a look.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

EVENT = "/events/smw-london-2026/"
SESSION = EVENT + "long-words/"
SPEAKER = "/speakers/long-name/"
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
WORD = "Supercalifragilistic" * 100  # 2,000 characters, no break
URL = "https://example.com/" + "a" * 480  # 500 characters
EMOJI = "\U0001f389" * 300
SHOTS = Path(os.environ.get("LIVEBLOG_SHOTS", "/tmp/shots"))
# The boxes whose content must stay inside them.
CARDS = ".card, .entry, .console-entry, .session-controls, .key-moments a, .page-header"


@pytest.fixture(scope="module")
def long_words(pristine_server):
    """The server, with the long-worded session; and the ids of its entries, by kind."""
    server = pristine_server
    output = server.shell(
        "import datetime as dt\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.utils import timezone\n"
        "from events.models import Event\n"
        "from sessions.models import Session, Speaker\n"
        "now = timezone.now()\n"
        "speaker = Speaker.objects.create(name='N' * 200, slug='long-name')\n"
        "session = Session.objects.create(\n"
        "    event=Event.objects.get(slug='smw-london-2026'), slug='long-words',\n"
        "    title='T' * 100, room='R' * 100, status='live',\n"
        "    starts_at=now - dt.timedelta(minutes=5), ends_at=now + dt.timedelta(hours=1))\n"
        "session.speakers.add(speaker)\n"
        "session.bloggers.add(get_user_model().objects.get(username='blogger'))\n"
        "print(session.pk, speaker.pk)\n"
    )
    session_id, speaker_id = output.split()[-2:]
    token = server.manage("create_api_token", "blogger").strip().splitlines()[-1]
    ids = {}
    for name, body in [
        ("word", {"body": WORD, "key_moment": True}),
        ("url", {"body": URL}),
        ("emoji", {"body": EMOJI}),
        ("quote", {"kind": "quote", "body": WORD[:300], "speaker": int(speaker_id)}),
    ]:
        request = urllib.request.Request(
            f"{server.url}/api/sessions/{session_id}/entries",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            ids[name] = json.load(response)["id"]
    return server, ids


def pages(ids) -> list[str]:
    return [
        "/",
        EVENT,
        SESSION,
        f"{SESSION}entries/{ids['word']}/",
        f"{SESSION}entries/{ids['url']}/",
        SPEAKER,
        SESSION + "console/",
    ]


def overflowing_cards(page) -> list[str]:
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((el) => el.scrollWidth > el.clientWidth + 1)
            .map((el) => `${el.tagName}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}`)""",
        CARDS,
    )


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.mark.parametrize(("size", "width"), [(PHONE, 375), (DESKTOP, 1280)])
def test_no_page_is_wider_than_the_screen_and_no_card_spills(new_page, long_words, size, width):
    server, ids = long_words
    page = new_page(**size)
    log_in(page, server)  # the console needs the blogger; the other pages look the same
    problems = []
    for path in pages(ids):
        response = page.goto(server.url + path)
        assert response.status == 200, path
        expect(page.locator("main")).to_be_visible()
        if page_width(page) > width:
            problems.append(f"{path}: the page is {page_width(page)} px wide")
        problems += [f"{path}: {card}" for card in overflowing_cards(page)]
    assert not problems, "\n".join(problems)


def test_the_long_content_is_all_there_and_the_bare_url_is_a_link(new_page, long_words):
    server, ids = long_words
    page = new_page(**PHONE)
    page.goto(server.url + SESSION)
    expect(page.locator("h1")).to_have_text("T" * 100)
    expect(page.locator(f"#entry-{ids['word']}")).to_contain_text(WORD)
    expect(page.locator(f"#entry-{ids['emoji']}")).to_contain_text(EMOJI)
    link = page.locator(f"#entry-{ids['url']} .entry__body a")
    expect(link).to_have_attribute("href", URL)
    expect(link).to_have_attribute("rel", "nofollow noopener noreferrer ugc")


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_screenshots_of_the_session_page_with_long_words(new_page, long_words, size, name):
    server, _ = long_words
    page = new_page(**size, reduced_motion="reduce")
    page.goto(server.url + SESSION)
    expect(page.locator("#entries > article")).to_have_count(4)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"long-words-{name}.png")
    page.screenshot(path=SHOTS / f"long-words-{name}-full.png", full_page=True)
    for index in range(4):
        page.locator("#entries > article").nth(index).screenshot(
            path=SHOTS / f"long-words-{name}-entry-{index + 1}.png"
        )
