"""PostgreSQL restarting, or its connections cut: a 503 with Retry-After, never a 500.

The console's outbox and API scripts retry a 503 (and the outbox keeps the post until it
goes through); readers' sockets are not involved: they stay open.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection
from django.test import Client

from accounts.models import ApiToken
from entries import stream
from realtime.consumers import CLOSE_TRY_AGAIN_LATER, connection_gate
from tests.conftest import post_entry
from tests.test_realtime import reader  # at import: the ASGI app sets up logging (caplog)

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    def cut():
        monkeypatch.setattr(connection, "cursor", unreachable)

    return cut


def test_the_api_answers_503_with_retry_after(session, blogger, database_down):
    secret = ApiToken.issue(blogger, "script")[1]
    client = Client(raise_request_exception=False)
    database_down()
    for response in (
        client.get("/api/events"),
        client.get("/api/sessions"),
        client.get(f"/api/sessions/{session.pk}"),
        client.get(f"/api/sessions/{session.pk}/entries"),
        client.post(
            f"/api/sessions/{session.pk}/entries",
            json.dumps({"body": "While PostgreSQL restarts"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        ),
    ):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response.json()["detail"].startswith("The database is unreachable")


def test_the_consoles_outbox_gets_503_and_keeps_the_post_to_retry(session, blogger, database_down):
    client = Client(raise_request_exception=False)
    client.force_login(blogger)
    database_down()
    response = client.post(
        session.get_console_url() + "entries/",
        {"kind": "text", "body": "Kept in the outbox"},
        HTTP_X_LIVEBLOG_OUTBOX="1",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/plain")


def test_a_reader_page_says_so_plainly(session, database_down):
    client = Client(raise_request_exception=False)
    database_down()
    response = client.get(session.get_absolute_url())
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "Back in a moment" in response.content.decode()


def test_any_other_error_is_still_a_500(session, blogger, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    post_entry(session, blogger, "x")
    monkeypatch.setattr("entries.views.stream.entry_html", broken)
    response = Client(raise_request_exception=False).get(session.get_absolute_url())
    assert response.status_code == 500 and "Retry-After" not in response


def test_with_debug_on_as_make_run_serves_it_is_still_a_503(
    session, blogger, database_down, settings
):
    settings.DEBUG = True  # Django would answer its technical 500 page for any other error
    client = Client(raise_request_exception=False)
    client.force_login(blogger)
    database_down()
    response = client.post(
        session.get_console_url() + "entries/",
        {"kind": "text", "body": "Kept in the outbox"},
        HTTP_X_LIVEBLOG_OUTBOX="1",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.content.decode().startswith("The database is unreachable")


@pytest.mark.django_db(transaction=True)
async def test_a_reader_connecting_meanwhile_is_told_to_try_again_later_without_a_traceback(
    session, blogger, monkeypatch, caplog
):
    await database_sync_to_async(post_entry)(session, blogger, "Before the restart")

    def unreachable(self):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(stream.CatchUp, "load", unreachable)
    communicator = reader(session.pk, "after=0")
    connected, _ = await communicator.connect()
    assert connected
    closed = await communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}
    assert connection_gate().open == {}  # its place at the gate was given back
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "not caught up" in caplog.text
