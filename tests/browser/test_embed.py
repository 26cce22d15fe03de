"""Another site embeds a session's live view in an iframe: it loads, goes live, shows new
entries as they are posted, and catches up on what it missed while offline."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

from playwright.sync_api import expect

from tests.browser.conftest import SESSION, open_console, unique
from tests.browser.test_socket_lifecycle import post

EMBED = "/embed/" + SESSION.removeprefix("/events/")


@contextlib.contextmanager
def embedding_site(server) -> Iterator[str]:
    """A blog on another origin (localhost, the test server being 127.0.0.1) whose page
    holds the embed snippet's iframe. Served for real: Chromium treats a page it cannot
    place on the network as public, and keeps public pages from framing loopback ones."""
    page = (
        "<!doctype html><title>A blog</title><h1>Our coverage</h1>"
        f'<iframe src="{server.url}{EMBED}" title="Live updates" width="400" height="600">'
        "</iframe>"
    ).encode()

    class Blog(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blog)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/coverage.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_embedding_site(new_page, url):
    page = new_page()
    page.goto(url)
    frame = page.frame_locator("iframe")
    expect(frame.locator("[data-live-session]")).to_have_attribute("data-connection", "live")
    return page, frame


def test_another_site_embeds_the_live_view_which_updates_and_catches_up(new_page, live_server_url):
    server = live_server_url
    with embedding_site(server) as url:
        page, frame = open_embedding_site(new_page, url)
        check_live_and_catch_up(new_page, server, page, frame)


def check_live_and_catch_up(new_page, server, page, frame) -> None:
    expect(frame.locator("#entries article.entry").first).to_be_visible()
    console = open_console(new_page, server)

    live = unique("Embedded and live")
    post(console, live)
    expect(frame.locator("#entries article.entry", has_text=live)).to_have_count(1)

    page.context.set_offline(True)
    missed = unique("Posted while the embed was offline")
    post(console, missed)
    page.context.set_offline(False)
    expect(frame.locator("#entries article.entry", has_text=missed)).to_have_count(1)
    expect(frame.locator("#entries article.entry", has_text=live)).to_have_count(1)
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
