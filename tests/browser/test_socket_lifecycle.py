"""A reader's socket over its life: closed when its user signs out, turned away when busy.

The page's own socket is watched from inside the page: an init script (Playwright runs it
before the page's scripts, whatever the page's CSP) wraps window.WebSocket to record each
socket's opening, its close code and any "busy" message, and records every value the
stream's data-connection attribute takes. See docs/realtime.md.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from unittest import mock

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    SESSION,
    LiveServer,
    _serve,
    log_in,
    open_console,
    unique,
    wait_until_live,
)

# How long to wait for a socket's next event: a ceiling, not a measurement. A reconnect
# takes a second or two, but on a machine busy with the rest of the suite a page's load
# and first socket have taken longer than 5 s (the busy-reader test failed so once).
SOCKET_WAIT_MS = 20_000

RECORD_SOCKETS = """
(() => {
  const record = (window.__sockets = { events: [], states: [] });
  const Native = window.WebSocket;
  let count = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const socket = count++;
      const note = (kind, extra) =>
        record.events.push({ kind, socket, at: performance.now(), ...extra });
      note("new");
      this.addEventListener("open", () => note("open"));
      this.addEventListener("message", (event) => {
        let msg = null;
        try { msg = JSON.parse(event.data); } catch (e) {}
        if (msg && msg.type === "busy") note("busy", { retry_after: msg.retry_after });
      });
      this.addEventListener("close", (event) => note("close", { code: event.code }));
    }
  };
  // Every value data-connection takes, in order: each change's old value, then the last.
  new MutationObserver((changes) => {
    for (const change of changes) record.states.push(change.oldValue);
  }).observe(document, {
    subtree: true, attributes: true, attributeOldValue: true,
    attributeFilter: ["data-connection"],
  });
})();
"""


def watch_sockets(page) -> None:
    page.add_init_script(RECORD_SOCKETS)


def socket_events(page) -> list[dict]:
    return page.evaluate("() => window.__sockets.events")


def connection_states(page) -> list[str]:
    return page.evaluate(
        """() => [...window.__sockets.states,
                  document.querySelector("[data-live-session]").dataset.connection]"""
    )


def wait_for_second_socket_live(page, timeout: int = SOCKET_WAIT_MS) -> None:
    """Until the page's second socket has opened and caught up."""
    page.wait_for_function(
        """() => window.__sockets.events.filter((e) => e.kind === "open").length >= 2
              && document.querySelector("[data-live-session]").dataset.connection === "live"
        """,
        timeout=timeout,
    )


def post(console, text: str) -> None:
    """Post a text entry from the console, once the server has taken it."""
    console.fill("#id_body", text)
    console.locator("#id_body").press("Control+Enter")
    posted = console.locator("#console-entries .console-entry", has_text=text)
    expect(posted).to_have_id(re.compile(r"^console-entry-\d+$"))


def kinds(events: list[dict]) -> list[str]:
    return [f"{e['kind']} {e['code']}" if e["kind"] == "close" else e["kind"] for e in events]


def shown_once(page, text: str) -> None:
    expect(page.locator("#entries article.entry", has_text=text)).to_have_count(
        1, timeout=SOCKET_WAIT_MS
    )
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1


def test_signing_out_in_another_tab_reconnects_the_session_page_which_stays_live(
    new_page, live_server_url
):
    server = live_server_url
    reader = new_page()  # page A: the blogger reading the session page
    watch_sockets(reader)
    log_in(reader, server)
    reader.goto(server.url + SESSION)
    wait_until_live(reader)

    other_tab = reader.context.new_page()  # page B: same browser, same cookies
    other_tab.goto(server.url + "/")
    other_tab.get_by_role("button", name="Log out").click()
    expect(other_tab.get_by_role("link", name="Log in")).to_be_visible()

    wait_for_second_socket_live(reader)
    events = socket_events(reader)
    assert kinds(events) == ["new", "open", "close 4401", "new", "open"]
    # At once: straight from live to reconnecting, never shown as a lost connection.
    states = connection_states(reader)
    assert states[states.index("live") :] == ["live", "reconnecting", "live"], states
    expect(reader.locator("#live-banner")).to_be_hidden()

    console = other_tab
    log_in(console, server)
    console.goto(server.url + SESSION + "console/")
    text = unique("Posted after signing out and in again")
    post(console, text)
    shown_once(reader, text)
    assert kinds(socket_events(reader)) == ["new", "open", "close 4401", "new", "open"]


@pytest.fixture(scope="module")
def strict_server() -> Iterator[LiveServer]:
    """A server that lets one address hold one websocket at a time (no rate limit)."""
    limits = {
        "WEBSOCKET_MAX_PER_ADDRESS": "1",
        "WEBSOCKET_CONNECT_RATE": "0",
        "WEBSOCKET_CONNECT_BURST": "0",
    }
    with contextlib.ExitStack() as stack:
        # _serve copies the environment as it starts; only its copy keeps the limits.
        with mock.patch.dict(os.environ, limits):
            server = stack.enter_context(_serve())
        yield server


def test_a_reader_turned_away_by_a_busy_server_waits_as_told_then_goes_live(
    new_page, strict_server
):
    """Deterministic: the second reader comes while the first one surely holds the only
    place (no race against a clock), and gets in once the first has left."""
    server = strict_server
    first, late = new_page(), new_page()
    for page in (first, late):
        watch_sockets(page)
    first.goto(server.url + SESSION)
    wait_until_live(first)
    late.goto(server.url + SESSION, wait_until="commit")
    late.wait_for_function(
        "() => (window.__sockets || {events: []}).events.some((e) => e.code === 4429)",
        timeout=SOCKET_WAIT_MS,
    )
    assert kinds(socket_events(late)) == ["new", "open", "busy", "close 4429"]
    assert kinds(socket_events(first)) == ["new", "open"]
    first.close()  # gives its place back

    wait_for_second_socket_live(late, timeout=SOCKET_WAIT_MS + 15_000)
    events = socket_events(late)
    assert kinds(events) == ["new", "open", "busy", "close 4429", "new", "open"]
    busy, closed, retried = events[2], events[3], events[4]
    assert busy["retry_after"] == 10  # ConnectionGate.FULL_RETRY_SECONDS
    # No sooner than the server asked (the page adds jitter on top).
    assert retried["at"] - closed["at"] >= busy["retry_after"] * 1000
    # Nothing that stays on screen: no banner left, never given up on. ("Back online"
    # shows for 5 s by design: waiting exactly that long raced it.)
    expect(late.locator("#live-banner")).to_be_hidden(timeout=SOCKET_WAIT_MS + 5_000)
    assert "gone" not in connection_states(late)

    console = open_console(new_page, server)
    text = unique("Posted once the busy reader was back")
    post(console, text)
    shown_once(late, text)
    assert kinds(socket_events(late)) == ["new", "open", "busy", "close 4429", "new", "open"]
