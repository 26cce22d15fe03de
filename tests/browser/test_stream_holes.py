"""A change that never arrives while later ones keep coming: the page still catches up.

live.js closes its socket (4000) when a hole in the sequence stays open 3 s. It used to
restart that wait at every change that arrived, so with a blogger posting every two
seconds a change lost while Redis restarted was never fetched (make soak: readers went two
minutes without the entry). The page's socket is played by the test (Playwright's
WebSocket routing) and its timers by Playwright's clock, so nothing waits on the wall clock.
"""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import expect

from tests.browser.conftest import SESSION, LiveServer, wait_until_live


def until(page, condition, what: str) -> None:
    """Let the page run (on the wall clock, bounded) until condition holds. The bound is
    a ceiling, not a measurement: on a machine busy with the whole suite, 10 s was once
    not enough for a close to travel from the page to the test."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        page.wait_for_timeout(50)


def entry(seq: int) -> str:
    html = (
        f'<article id="entry-{900000 + seq}" class="entry entry--text" data-seq="{seq}" '
        f'data-created-seq="{seq}"><p>Entry {seq}</p></article>'
    )
    return json.dumps(
        {"type": "entry", "action": "created", "id": 900000 + seq, "seq": seq,
         "key_moment": False, "html": html}
    )  # fmt: skip


def test_a_hole_is_caught_up_three_seconds_after_it_opens_though_changes_keep_arriving(
    live_server_url: LiveServer, new_page
):
    page = new_page()
    page.clock.install()
    sockets = []
    closes = []

    def server(socket) -> None:  # the page's socket, answered by the test
        sockets.append(socket)

        def closed(code, reason) -> None:
            closes.append(code)
            socket.close(code=code, reason=reason)  # as a server answers a close

        socket.on_close(closed)

    page.route_web_socket(re.compile(r"/ws/sessions/\d+/"), server)
    page.goto(live_server_url.url + SESSION)
    until(page, lambda: len(sockets) == 1, "the page opened its socket")
    cursor = int(re.search(r"after=(\d+)", sockets[0].url).group(1))
    sockets[0].send(json.dumps({"type": "caught_up", "seq": cursor}))
    wait_until_live(page)

    # cursor + 1 never arrives; the next ones come every 2 s, as from a busy blogger.
    for seq in range(cursor + 2, cursor + 4):
        sockets[0].send(entry(seq))
        expect(page.locator(f"#entry-{900000 + seq}")).to_be_attached()
        page.clock.run_for(2000)
    # 4 s after the hole opened, not never.
    until(page, lambda: closes == [4000], "the page closed its socket for the hole")

    # The page reconnects from its cursor, below the hole, and is caught up from there.
    def reconnected() -> bool:
        page.clock.run_for(250)  # the first retry comes within 0.25 + 0.5 s of the close
        return len(sockets) == 2

    until(page, reconnected, "the page reconnected")
    assert re.search(r"after=(\d+)", sockets[1].url).group(1) == str(cursor)
