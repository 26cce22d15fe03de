"""The real server's websocket limits: oversized client messages are refused."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from liveblog.server import APPLICATION, arguments

ROOT = Path(__file__).resolve().parents[1]


def test_the_limits_come_before_any_option_and_the_app_is_added_once():
    args = arguments(["-b", "127.0.0.1", "-p", "9000"])
    assert args[-1] == APPLICATION and args.count(APPLICATION) == 1
    assert args[args.index("--websocket-max-message-size") + 1] == "4096"
    assert arguments(["other.asgi:application"])[-1] == "other.asgi:application"


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
    process = subprocess.Popen(
        [sys.executable, "-m", "liveblog.server", "-b", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_an_oversized_client_message_closes_the_socket(server):
    async def scenario():
        url = f"ws://127.0.0.1:{server}/ws/sessions/1/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{server}") as ws:
            while '"caught_up"' not in await asyncio.wait_for(ws.recv(), 10):
                pass
            await ws.send('{"type":"ping"}')
            assert await asyncio.wait_for(ws.recv(), 10) == '{"type":"pong"}'
            await ws.send("x" * 10_000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    # The server drops the socket (1009 "message too big", or the TCP connection at once)
    # rather than reading on; a message under the cap would get the protocol's 4400.
    assert await scenario() in {1009, None}


async def test_a_small_non_protocol_message_gets_the_protocol_close_code(server):
    async def scenario():
        url = f"ws://127.0.0.1:{server}/ws/sessions/1/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{server}") as ws:
            while '"caught_up"' not in await asyncio.wait_for(ws.recv(), 10):
                pass
            await ws.send("x" * 3000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    assert await scenario() == 4400
