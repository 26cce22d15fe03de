"""The reader's websocket: pushes on create, edit, delete and status; catch-up; read-only."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from entries import actions, stream
from liveblog.asgi import application
from realtime import broadcast
from realtime.consumers import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND, CLOSE_RELOAD
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = [pytest.mark.django_db(transaction=True)]


def reader(
    session_id: int, query: str = "", origin: bytes = b"http://127.0.0.1"
) -> WebsocketCommunicator:
    path = f"/ws/sessions/{session_id}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(
        application, path, headers=[(b"origin", origin), (b"host", b"127.0.0.1")]
    )


async def connect(session_id: int, query: str = "") -> WebsocketCommunicator:
    communicator = reader(session_id, query)
    connected, _ = await communicator.connect()
    assert connected
    caught_up = await communicator.receive_json_from()
    assert caught_up["type"] == "caught_up"
    return communicator


async def next_message(communicator: WebsocketCommunicator) -> dict:
    return await communicator.receive_json_from(timeout=3)


async def test_a_new_entry_reaches_a_reader_as_one_rendered_fragment(session, blogger):
    communicator = await connect(session.pk)
    entry = await sync_to_async(post_entry)(session, blogger, "Scott Gould opens **Like Minds**")
    message = await next_message(communicator)
    assert message["type"] == "entry" and message["action"] == "created"
    assert message["id"] == entry.pk and message["seq"] == entry.seq == 1
    assert message["html"].startswith(
        f'<article id="entry-{entry.pk}" class="entry entry--text" data-seq="1"'
    )
    assert "<strong>Like Minds</strong>" in message["html"]
    assert await communicator.receive_nothing()
    await communicator.disconnect()


async def test_edits_and_deletions_are_pushed_in_order(session, blogger):
    entry = await sync_to_async(post_entry)(session, blogger, "Typo heer")
    communicator = await connect(session.pk, f"after={entry.seq}")
    await sync_to_async(actions.edit_entry)(entry=entry, body="Typo here")
    await sync_to_async(actions.set_key_moment)(entry=entry, value=True)
    await sync_to_async(actions.hide_entry)(entry=entry)
    edited, marked, deleted = [await next_message(communicator) for _ in range(3)]
    assert (edited["action"], edited["seq"]) == ("updated", 2)
    assert "Typo here" in edited["html"]
    assert (marked["action"], marked["seq"], marked["key_moment"]) == ("updated", 3, True)
    assert "entry--key" in marked["html"]
    assert deleted == {
        "type": "entry",
        "action": "deleted",
        "id": entry.pk,
        "seq": 4,
        "key_moment": False,
        "pinned": False,
        "featured": False,
    }
    await communicator.disconnect()


async def test_posting_through_the_console_pushes_to_every_reader_of_that_session_only(
    session, other_session, blogger
):
    readers = [await connect(session.pk) for _ in range(3)]
    elsewhere = await connect(other_session.pk)
    client = Client()
    await sync_to_async(client.force_login)(blogger)
    response = await sync_to_async(client.post)(
        session.get_console_url() + "entries/",
        {"kind": "text", "body": "Room is full"},
        HTTP_X_LIVEBLOG_OUTBOX="1",
    )
    assert response.status_code == 201
    for communicator in readers:
        message = await next_message(communicator)
        assert "Room is full" in message["html"]
    assert await elsewhere.receive_nothing()
    for communicator in [*readers, elsewhere]:
        await communicator.disconnect()


async def test_starting_and_ending_a_session_is_pushed(session):
    communicator = await connect(session.pk)
    await sync_to_async(actions.set_session_status)(session=session, status=Session.Status.ENDED)
    message = await next_message(communicator)
    assert message["type"] == "status" and message["status"] == "ended" and message["seq"] == 1
    assert 'data-status="ended"' in message["html"]
    assert (
        await sync_to_async(actions.set_session_status)(
            session=session, status=Session.Status.ENDED
        )
        is False
    )
    assert await communicator.receive_nothing()
    await communicator.disconnect()


async def test_a_rolled_back_change_is_never_pushed(session, blogger):
    from django.db import transaction

    communicator = await connect(session.pk)

    def post_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            post_entry(session, blogger, "Never happened")
            raise RuntimeError("boom")

    await sync_to_async(post_then_fail)()
    assert await communicator.receive_nothing()
    assert await sync_to_async(lambda: Session.objects.get(pk=session.pk).last_seq)() == 0
    await communicator.disconnect()


async def test_a_reader_that_reconnects_gets_exactly_what_it_missed(session, blogger):
    kept = await sync_to_async(post_entry)(session, blogger, "Seen before the drop")
    edited = await sync_to_async(post_entry)(session, blogger, "Also seen")
    deleted = await sync_to_async(post_entry)(session, blogger, "Seen, then deleted")
    after = deleted.seq  # 3: the reader had everything up to here

    # While away: a new entry, an edit, a deletion, an entry created and deleted, a status change.
    new = await sync_to_async(post_entry)(session, blogger, "Posted while away")
    await sync_to_async(actions.edit_entry)(entry=edited, body="Also seen, corrected")
    await sync_to_async(actions.hide_entry)(entry=deleted)
    ghost = await sync_to_async(post_entry)(session, blogger, "Here and gone")
    await sync_to_async(actions.hide_entry)(entry=ghost)
    await sync_to_async(actions.set_session_status)(session=session, status=Session.Status.ENDED)

    communicator = reader(session.pk, f"after={after}")
    assert (await communicator.connect())[0]
    messages = []
    while (message := await next_message(communicator))["type"] != "caught_up":
        messages.append(message)
    assert [(m["type"], m.get("action"), m.get("id")) for m in messages] == [
        ("entry", "created", new.pk),
        ("entry", "updated", edited.pk),
        ("entry", "deleted", deleted.pk),
        ("status", None, None),
    ]
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert message["seq"] == 9
    assert kept.pk not in {m.get("id") for m in messages}

    # And live changes follow the catch-up.
    await sync_to_async(post_entry)(session, blogger, "Back live")
    assert (await next_message(communicator))["seq"] == 10
    await communicator.disconnect()


async def test_a_reader_too_far_behind_is_told_to_reload(session, blogger, settings):
    settings.CATCHUP_MAX_CHANGES = 3
    for i in range(5):
        await sync_to_async(post_entry)(session, blogger, f"Entry {i}")
    communicator = reader(session.pk, "after=1")
    assert (await communicator.connect())[0]
    assert await next_message(communicator) == {"type": "reload", "seq": 5}
    assert (await communicator.receive_output(timeout=3))["code"] == CLOSE_RELOAD


async def test_a_cursor_from_the_future_is_told_to_reload(session):
    communicator = reader(session.pk, "after=99")
    assert (await communicator.connect())[0]
    assert (await next_message(communicator))["type"] == "reload"


@pytest.mark.parametrize(
    "query", ["after=abc", "after=-1", "after=1.5", "after=" + "9" * 30, "after=", "after=%C2%B2"]
)
async def test_a_bad_cursor_closes_with_4400(session, query):
    communicator = reader(session.pk, query)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": CLOSE_BAD_REQUEST,
    }


async def test_an_unknown_session_closes_with_4404(db):
    communicator = reader(424242)
    assert (await communicator.connect())[0]
    assert (await communicator.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": CLOSE_NOT_FOUND,
    }


async def test_a_missing_origin_is_refused(session):
    communicator = WebsocketCommunicator(
        application, f"/ws/sessions/{session.pk}/", headers=[(b"host", b"127.0.0.1")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_foreign_origin_is_refused(session):
    communicator = reader(session.pk, origin=b"https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


async def test_the_socket_is_read_only(session, blogger):
    communicator = await connect(session.pk)
    await communicator.send_to(text_data='{"type": "ping"}')
    assert await next_message(communicator) == {"type": "pong"}
    await communicator.send_to(text_data=json.dumps({"type": "entry", "body": "injected"}))
    assert (await communicator.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": CLOSE_BAD_REQUEST,
    }
    assert await sync_to_async(session.entries.count)() == 0


@pytest.mark.parametrize("frame", ["not json", "[]", '{"type": "ping", "extra": 1}', "null"])
async def test_any_other_client_frame_closes_the_socket(session, frame):
    communicator = await connect(session.pk)
    await communicator.send_to(text_data=frame)
    assert (await communicator.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": CLOSE_BAD_REQUEST,
    }


async def test_a_binary_frame_closes_the_socket(session):
    communicator = await connect(session.pk)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": CLOSE_BAD_REQUEST,
    }


@pytest.mark.django_db  # on-commit callbacks are all it needs of a commit
def test_a_broken_channel_layer_still_saves_the_entry(
    session, blogger, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    class Broken:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: Broken())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        entry = post_entry(session, blogger, "Saved anyway")
    assert len(callbacks) == 1
    assert session.entries.get().pk == entry.pk
    assert "broadcast of seq 1" in caplog.text


@pytest.mark.django_db
def test_the_fragment_is_rendered_once_per_change_not_per_reader(session, blogger, monkeypatch):
    from django.template import loader

    renders = []
    original = loader.render_to_string

    def counting(name, *args, **kwargs):
        renders.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(stream, "render_to_string", counting)
    post_entry(session, blogger, "Once")
    assert renders == ["entries/partials/entry.html"]
