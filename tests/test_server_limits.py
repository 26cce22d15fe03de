"""The real server's websocket limits: oversized client messages are refused."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from entries import actions, stream
from entries.models import Entry
from liveblog.server import (
    APPLICATION,
    LISTEN_BACKLOG,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    arguments,
)
from realtime import broadcast

ROOT = Path(__file__).resolve().parents[1]


def test_the_limits_come_before_any_option_and_the_app_is_added_once():
    args = arguments(["-b", "127.0.0.1", "-p", "9000"])
    assert args[-1] == APPLICATION and args.count(APPLICATION) == 1
    assert args[args.index("--websocket-max-frame-size") + 1] == str(MAX_FRAME_BYTES)
    assert args[args.index("--websocket-max-message-size") + 1] == str(MAX_MESSAGE_BYTES)
    assert arguments(["other.asgi:application"])[-1] == "other.asgi:application"


def test_make_run_the_image_and_the_tests_listen_with_a_backlog_for_reconnect_storms():
    # Twisted's default backlog (50) refuses handshakes when a room reconnects at once.
    def endpoint(argv):
        args = arguments(argv)
        return args[args.index("-e") + 1]

    assert endpoint(["-b", "127.0.0.1", "-p", "8000"]) == (
        f"tcp:port=8000:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"
    )
    assert endpoint(["--bind", "0.0.0.0", "--port=9000", "--proxy-headers"]).startswith(
        "tcp:port=9000:interface=0.0.0.0:backlog="
    )
    assert (
        endpoint(["--bind=::1", "-p", "1"])
        == f"tcp:port=1:interface=\\:\\:1:backlog={LISTEN_BACKLOG}"
    )
    assert endpoint([]) == f"tcp:port=8000:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"
    assert "-e" not in arguments(["-u", "/tmp/x.sock"])  # a caller's own endpoint stays
    assert LISTEN_BACKLOG >= 2048


# Bodies of the longest length, each in a Markdown that expands as much as we know of.
# (Bare addresses and URLs are linkified: "a@b.co " grows a little more than "<a@b.c>".)
EXPANDING = ["<a@b.c>", "a@b.co ", "http://b ", "😀", '"', "&", "[a](http://b)", "|a|\n", "*a* ",
             "- a\n"]  # fmt: skip


@pytest.mark.parametrize("unit", EXPANDING)
def test_the_longest_entry_fits_in_a_message_with_room_to_spare(unit, session, blogger, settings):
    # autobahn holds outgoing messages to the same cap as incoming ones: an entry's change,
    # framed as JSON with its fragment, must stay well under it.
    body = (unit * settings.ENTRY_BODY_MAX_LENGTH)[: settings.ENTRY_BODY_MAX_LENGTH].strip()
    entry = actions.post_entry(session=session, author=blogger, kind="quote", body=body,
                       attribution_name="N" * 200, source_url="https://example.com/" + "p" * 150)  # fmt: skip
    message = broadcast.encode(stream.entry_payload(entry, Entry.Action.CREATED))
    assert len(message.encode()) < MAX_MESSAGE_BYTES / 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("server")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{directory}/db.sqlite3", "DEBUG": "1"}
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = directory / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "liveblog.server", "-b", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    "server did not start"
                )
                time.sleep(0.2)
        yield port, env, log
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def port(server):
    return server[0]


LONG_ENTRY = """
from django.contrib.auth import get_user_model
from entries import actions
from sessions.models import Session
session = Session.objects.get(pk=1)
author = get_user_model().objects.get(username="blogger")
body = "Slide notes & <asides> " * 200  # ~4,600 characters; escaped, its HTML is larger still
entry = actions.post_entry(session=session, author=author, kind="text", body=body)
print(entry.pk, entry.seq, len(entry.html))
"""


async def test_catch_up_sends_entries_larger_than_the_client_message_cap(server):
    # The cap is for what clients send; what the server sends (a long entry's fragment in
    # a catch-up or a live push) must not be held to it.
    port, env, _ = server
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LONG_ENTRY],
        cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    pk, seq, html_length = map(int, result.stdout.split()[-3:])
    assert html_length > 5000
    url = f"ws://127.0.0.1:{port}/ws/sessions/1/?after={seq - 1}"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["id"] == pk and first["seq"] == seq and len(first["html"]) > 5000
        assert '"caught_up"' in await asyncio.wait_for(ws.recv(), 10)


async def test_an_oversized_client_message_closes_the_socket(port):
    async def scenario():
        url = f"ws://127.0.0.1:{port}/ws/sessions/1/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
            while '"caught_up"' not in await asyncio.wait_for(ws.recv(), 10):
                pass
            await ws.send('{"type":"ping"}')
            assert await asyncio.wait_for(ws.recv(), 10) == '{"type":"pong"}'
            await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    # The server drops the socket (1009 "message too big", or the TCP connection at once)
    # at the first frame over MAX_FRAME_BYTES
    # rather than reading on; a message under the cap would get the protocol's 4400.
    assert await scenario() in {1009, None}


async def test_a_small_non_protocol_message_gets_the_protocol_close_code(port):
    async def scenario():
        url = f"ws://127.0.0.1:{port}/ws/sessions/1/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
            while '"caught_up"' not in await asyncio.wait_for(ws.recv(), 10):
                pass
            await ws.send("x" * 3000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    assert await scenario() == 4400


@pytest.mark.parametrize(
    "path",
    [
        "/ws/nothing-here/",
        "/ws/sessions/abc/",
        "/ws/sessions/1/extra/",
        "/ws/sessions/",
        "/ws/%ff%fe/",
        "/api/sessions/1/entries",
    ],
)
async def test_an_upgrade_on_a_path_with_no_socket_is_refused_without_an_error(server, path):
    port, _, log = server
    before = log.read_text()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}{path}", origin=f"http://127.0.0.1:{port}"
        ):
            pass
    assert refused.value.response.status_code == 403
    added = log.read_text()[len(before) :]
    assert "Traceback" not in added and "ERROR" not in added, added


async def test_a_session_id_past_the_database_range_is_not_found(server):
    port, _, log = server
    before = log.read_text()
    url = f"ws://127.0.0.1:{port}/ws/sessions/{2**64}/"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4404
    assert "Traceback" not in log.read_text()[len(before) :]
