"""The console's outbox while the database is down: posts are held, then sent once, in order.

The server is the real one with a switch for its database (tests/browser/switchable_server.py):
while the switch is on, every connection fails as when PostgreSQL restarts, and the real
views and middleware answer 503 with Retry-After. No test waits on the wall clock: the page's
own clock is jumped past the outbox's backoff once the database is back.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SESSION, _serve, log_in, open_reader, unique

SHOTS = Path(os.environ.get("LIVEBLOG_SHOTS", "/tmp/shots"))


@pytest.fixture(scope="module")
def switchable_server():
    directory = Path(tempfile.mkdtemp(prefix="liveblog-switch-"))
    switch = directory / "database-down"
    try:
        with _serve(
            "tests.browser.switchable_server", {"LIVEBLOG_TEST_DATABASE_DOWN": str(switch)}
        ) as server:
            server.switch = switch
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def stored(server, texts: list[str]) -> list[tuple[str, int]]:
    """(body, seq) of every stored entry with one of these bodies, in seq order."""
    out = server.shell(
        "from entries.models import Entry\n"
        f"for e in Entry.objects.filter(body__in={texts!r}).order_by('seq'): print(e.seq, e.body)"
    )
    return [(body, int(seq)) for seq, body in (line.split(" ", 1) for line in out.splitlines())]


def test_posts_written_while_the_database_is_down_are_held_then_sent_once_in_order(
    new_page, switchable_server
):
    server = switchable_server
    reader = open_reader(new_page, server)
    console = new_page(viewport={"width": 375, "height": 812}, reduced_motion="reduce")
    console.clock.install()  # time runs as usual, until the test jumps it forward
    log_in(console, server)
    console.goto(server.url + SESSION + "console/")
    answers: list[tuple[int, str | None]] = []
    console.on(
        "response",
        lambda response: (
            answers.append((response.status, response.headers.get("retry-after")))
            if response.request.method == "POST" and response.url.endswith("/console/entries/")
            else None
        ),
    )

    server.switch.touch()  # PostgreSQL restarts
    texts = [unique(f"Said while the database restarted, part {i}") for i in (1, 2)]
    for text in texts:
        console.fill("#id_body", text)
        console.keyboard.press("Control+Enter")
        expect(console.locator(".console-entry--pending").first).to_contain_text(text)
    pending = console.locator(".console-entry--pending")
    expect(pending).to_have_count(2)
    for index in range(2):
        expect(pending.nth(index)).to_contain_text("Waiting for the server")
    note = console.locator("[data-outbox-note]")
    expect(note).to_have_text(re.compile(r"^Waiting for the server: 2 posts held, sent in order"))
    assert (503, "5") in answers  # through the real middleware, as PostgreSQL down answers
    assert all(status == 503 for status, _ in answers)
    assert stored(server, texts) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    console.locator("#id_body").blur()
    console.screenshot(path=SHOTS / "outbox-database-down-phone.png", animations="disabled")
    console.screenshot(
        path=SHOTS / "outbox-database-down-phone-full.png", animations="disabled", full_page=True
    )

    server.switch.unlink()  # PostgreSQL is back
    # The outbox tries again when its backoff (at least the 5 s Retry-After) says: jump
    # the page's clock past it, as often as it takes, rather than wait for it.
    for _ in range(10):
        console.clock.fast_forward("00:31")
        try:
            expect(pending).to_have_count(0, timeout=3000)
            break
        except AssertionError:
            continue
    expect(pending).to_have_count(0)
    expect(note).to_be_hidden()
    console_entries = console.locator("#console-entries .console-entry")
    expect(console_entries.nth(0)).to_contain_text(texts[1])  # newest first
    expect(console_entries.nth(1)).to_contain_text(texts[0])
    assert answers[-2:] == [(201, None), (201, None)] or all(
        status in (200, 201) for status, _ in answers[-2:]
    )

    # Readers' sockets stayed open; they see both, once each, in the order posted.
    expect(reader.locator("#entries article.entry").first).to_contain_text(texts[1])
    shown = reader.locator("#entries article.entry .entry__body").all_inner_texts()
    assert [sum(text in body for body in shown) for text in texts] == [1, 1]
    positions = [next(i for i, body in enumerate(shown) if text in body) for text in texts]
    assert positions[1] < positions[0]
    assert reader.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    rows = stored(server, texts)
    assert [body for body, _ in rows] == texts  # each once, in the order written
    assert rows[0][1] < rows[1][1]
