"""Request bodies are bounded around the ASGI app, declared or chunked (docs/security.md).

These go through liveblog.asgi.application itself: Django's test clients skip the ASGI
middleware that keeps the limit. The last test sends a raw chunked POST to a real server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.core.signals import request_started

from accounts.models import ApiToken
from entries.models import Entry
from liveblog.asgi import application
from liveblog.middleware import BodyLimitMiddleware
from sessions.models import Session
from tests.test_server_limits import ROOT, server  # noqa: F401 (the real server, reused)

pytestmark = pytest.mark.django_db(transaction=True)

API_LIMIT = 64 * 1024
SITE_LIMIT = 1024 * 1024


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def asgi_post(path: str, chunks: list[bytes], headers=(), length: bytes | None = None):
    """POST the chunks as http.request messages (more_body on all but the last) through the
    ASGI application. Content-Length is sent only when given: the rest are chunked bodies.
    Returns (status, headers, body, the number of chunks the app left unread)."""
    headers = [(name.lower().encode(), value.encode()) for name, value in dict(headers).items()]
    if length is not None:
        headers.append((b"content-length", length))
    communicator = ApplicationCommunicator(application, http_scope(path, headers))
    for number, chunk in enumerate(chunks, start=1):
        more = number < len(chunks)
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": more})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(timeout=10)  # the app has returned, and raised nothing
    unread = communicator.input_queue.qsize()
    return start["status"], dict(start["headers"]), body, unread


def split(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def entry_json(padding: int) -> bytes:
    """A valid entry with `padding` bytes of an ignored field: without a byte limit it posts."""
    return json.dumps({"body": "From the room", "pad": "x" * padding}).encode()


@pytest.fixture
def token(blogger):
    return ApiToken.issue(blogger, "body limits")[1]


@pytest.fixture
def api_headers(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture
def django_started():
    """Each request Django began handling (its request_started signal)."""
    seen: list[object] = []

    def receiver(sender, **kwargs):
        seen.append(sender)

    request_started.connect(receiver)
    yield seen
    request_started.disconnect(receiver)


@database_sync_to_async
def stored(session) -> tuple[int, int]:
    """Entries, and the session's last seq (closing the connection, as Channels does)."""
    return Entry.objects.count(), Session.objects.get(pk=session.pk).last_seq


def entries_path(session) -> str:
    return f"/api/sessions/{session.pk}/entries"


async def test_a_declared_over_limit_api_post_is_refused_unread(
    session, api_headers, django_started
):
    data = entry_json(API_LIMIT)
    status, headers, body, unread = await asgi_post(
        entries_path(session), [data], api_headers, length=b"%d" % len(data)
    )
    assert status == 413 and headers[b"content-type"] == b"application/json"
    assert json.loads(body) == {"detail": f"The request body is over {API_LIMIT} bytes."}
    assert unread == 1  # not even the first chunk was read
    assert django_started == []  # no view, no middleware, not even Django's request setup
    assert await stored(session) == (0, 0)


async def test_a_chunked_over_limit_api_post_is_refused_as_it_arrives(
    session, api_headers, django_started
):
    chunks = split(entry_json(10 * 16 * 1024), 16 * 1024)
    assert len(chunks) == 11 and len(b"".join(chunks[:4])) == API_LIMIT
    status, headers, body, unread = await asgi_post(entries_path(session), chunks, api_headers)
    assert status == 413 and headers[b"content-type"] == b"application/json"
    assert json.loads(body) == {"detail": f"The request body is over {API_LIMIT} bytes."}
    assert unread == 6  # read up to the fifth chunk, the first byte over, and no further
    assert django_started == []
    assert await stored(session) == (0, 0)


async def test_a_chunked_api_post_under_the_limit_goes_through(
    session, blogger, api_headers, django_started
):
    data = entry_json(API_LIMIT - len(entry_json(0)))
    assert len(data) == API_LIMIT  # the limit itself is allowed
    status, _, body, unread = await asgi_post(
        entries_path(session), split(data, 8 * 1024), api_headers
    )
    assert status == 201, body
    assert unread == 0 and len(django_started) == 1
    entry = await database_sync_to_async(Entry.objects.select_related("author").get)()
    assert entry.body == "From the room" and entry.author == blogger
    assert json.loads(body)["id"] == entry.pk
    assert await stored(session) == (1, 1)


@pytest.mark.parametrize("declared", [True, False])
async def test_a_non_api_body_over_its_limit_is_refused_as_text(declared, django_started):
    data = b"a=" + b"x" * SITE_LIMIT
    length = b"%d" % len(data) if declared else None
    chunks = split(data, 256 * 1024)
    status, headers, body, _ = await asgi_post("/accounts/login/", chunks, length=length)
    assert status == 413
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert body == f"The request body is over {SITE_LIMIT} bytes.".encode()
    assert django_started == []


async def test_a_non_api_body_may_be_larger_than_the_api_limit(django_started):
    # 100 KiB reaches Django, whose CSRF check refuses a POST without a token.
    status, _, _, unread = await asgi_post("/healthz", split(b"x" * 100 * 1024, 8 * 1024))
    assert status == 403 and unread == 0 and len(django_started) == 1


async def test_the_limits_are_read_from_the_settings(settings, session, api_headers):
    settings.API_MAX_REQUEST_BYTES = 100
    status, _, body, _ = await asgi_post(
        entries_path(session), split(entry_json(100), 50), api_headers
    )
    assert status == 413 and json.loads(body)["detail"] == "The request body is over 100 bytes."
    settings.REQUEST_MAX_BYTES = 10
    status, _, body, _ = await asgi_post("/healthz", [b"x" * 11])
    assert status == 413 and body == b"The request body is over 10 bytes."


@pytest.mark.parametrize("value", [b"ten", b"-5", b"+5", b"5, 5", b"0x10", b"", b"1.5"])
async def test_a_malformed_content_length_is_a_400(value, session, api_headers, django_started):
    status, headers, body, _ = await asgi_post(
        entries_path(session), [b"{}"], api_headers, length=value
    )
    assert status == 400 and json.loads(body) == {"detail": "Content-Length is not a number."}
    status, headers, body, _ = await asgi_post("/accounts/login/", [b""], length=value)
    assert status == 400 and body == b"Content-Length is not a number."
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert django_started == []
    assert await stored(session) == (0, 0)


async def test_an_app_that_answers_anyway_after_the_limit_is_not_heard():
    # Django stops at the disconnect; an app that read on and answered would be dropped.
    seen = []

    async def stubborn_app(scope, receive, send):
        while (message := await receive())["type"] == "http.request":
            seen.append(len(message["body"]))
        seen.append(message["type"])
        seen.append((await receive())["type"])  # asked again, the answer is the same
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stored it anyway"})

    communicator = ApplicationCommunicator(
        BodyLimitMiddleware(stubborn_app), http_scope("/api/sessions/1/entries", [])
    )
    for _ in range(5):
        await communicator.send_input(
            {"type": "http.request", "body": b"x" * 20_000, "more_body": True}
        )
    start = await communicator.receive_output(timeout=10)
    end = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    assert start["status"] == 413 and json.loads(end["body"])["detail"].endswith("bytes.")
    assert seen == [20_000, 20_000, 20_000, "http.disconnect", "http.disconnect"]
    assert communicator.output_queue.empty() and communicator.input_queue.qsize() == 1


# Against the real server (daphne, started as tests/test_server_limits.py does)

ISSUE_TOKEN = """
from django.contrib.auth import get_user_model
from accounts.models import ApiToken
print(ApiToken.issue(get_user_model().objects.get(username="blogger"), "raw chunked")[1])
"""


def last_seq(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sessions/1", timeout=10) as answer:
        return json.load(answer)["last_seq"]


def raw_chunked_post(
    port: int, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += "Connection: close\r\n\r\n"
    request = head.encode()
    for chunk in split(body, 10_000):
        request += b"%x\r\n%s\r\n" % (len(chunk), chunk)
    request += b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, response_body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), response_body


def test_a_real_server_refuses_a_chunked_api_post_over_the_limit(server):  # noqa: F811
    port, env, _ = server
    secret = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ISSUE_TOKEN],
        cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    before = last_seq(port)
    status, body = raw_chunked_post(port, "/api/sessions/1/entries", headers, entry_json(API_LIMIT))
    assert status == 413 and json.loads(body) == {
        "detail": f"The request body is over {API_LIMIT} bytes."
    }
    assert last_seq(port) == before
    # The same request, small, posts: the token and the path are good.
    status, body = raw_chunked_post(port, "/api/sessions/1/entries", headers, entry_json(100))
    assert status == 201, body
    assert last_seq(port) == before + 1
