"""Each entry's fragment is stored with it when it changes (Entry.fragment), so a worker
that rendered none of them catches readers up and serves the session page without
rendering a template; renaming a name a fragment shows renders that object's entries
again at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from entries import actions, stream
from entries.models import Entry
from tests.conftest import post_entry
from tests.photo_files import photo
from tests.test_api import bearer
from tests.test_photos_api import post_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Every template stream renders from now on."""
    seen: list[str] = []
    original = stream.render_to_string

    def counting(name, *args, **kwargs):
        seen.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(stream, "render_to_string", counting)
    return seen


def catch_up_html(session) -> str:
    verdict, payloads, _ = stream.catch_up(session.pk, 0)
    assert verdict == "ok"
    return "".join(payload.get("html", "") for payload in payloads)


def page_html(client, session) -> str:
    return client.get(session.get_absolute_url()).content.decode()


def test_every_kind_of_entry_is_stored_with_its_fragment(client, session, blogger, euan):
    post_entry(session, blogger, "Plain words")
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    post_entry(
        session,
        blogger,
        "Cited words",
        kind="citation",
        attribution_name="Clay Shirky",
        source_url="https://example.org/here",
    )
    assert post_photo(client, session, photo("JPEG"), headers=bearer(blogger)).status_code == 201
    entries = {entry.kind: entry for entry in Entry.objects.all()}
    assert set(entries) == {"text", "quote", "citation", "photo"}
    for entry in entries.values():
        assert entry.fragment == stream.render_fragment(entry)
        assert entry.fragment.startswith(f'<article id="entry-{entry.pk}" class="entry entry--')
    assert "<picture" in entries["photo"].fragment


def test_an_edit_and_a_restore_store_the_new_fragment(session, blogger):
    entry = post_entry(session, blogger, "First draft")
    actions.edit_entry(entry=entry, body="Second draft")
    actions.hide_entry(entry=entry)
    actions.restore_entry(entry=entry)
    stored = Entry.objects.get(pk=entry.pk).fragment
    assert "Second draft" in stored and f'data-seq="{entry.seq}"' in stored


def test_a_cold_catch_up_and_the_session_page_render_no_template(
    client, session, blogger, euan, renders
):
    for i in range(3):
        post_entry(session, blogger, f"Entry {i}")
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    renders.clear()  # a worker that rendered none of them
    assert "Entry 2" in catch_up_html(session)
    assert "Entry 2" in page_html(client, session)
    assert "entries/partials/entry.html" not in renders


def test_an_entry_with_no_stored_fragment_is_rendered_once_and_stored(session, blogger, renders):
    entry = post_entry(session, blogger, "Loaded from an archive")
    Entry.objects.update(fragment="")  # as load_archived_stream leaves it
    renders.clear()
    assert "Loaded from an archive" in catch_up_html(session)
    assert "Loaded from an archive" in catch_up_html(session)
    assert renders == ["entries/partials/entry.html"]
    assert Entry.objects.get(pk=entry.pk).fragment == stream.render_fragment(entry)


def test_a_renamed_speaker_shows_at_once(client, session, blogger, euan):
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    assert ">Euan Semple</a>" in page_html(client, session)
    euan.name = "Euan Semple, renamed"
    euan.save()
    assert ">Euan Semple, renamed</a>" in page_html(client, session)
    assert ">Euan Semple, renamed</a>" in catch_up_html(session)


def test_a_renamed_author_shows_at_once(client, session, blogger):
    post_entry(session, blogger, "Hello")
    blogger.first_name, blogger.last_name = "Benedict", "Writer"
    blogger.save()
    assert "Benedict Writer</span>" in page_html(client, session)
    assert "Benedict Writer</span>" in catch_up_html(session)


def test_an_event_moved_to_another_time_zone_shows_at_once(client, session, blogger):
    entry = post_entry(session, blogger, "Timed")
    Entry.objects.filter(pk=entry.pk).update(
        created_at=dt.datetime(2026, 7, 1, 12, 5, tzinfo=dt.UTC)
    )
    event = session.event
    event.time_zone = "Europe/Berlin"
    event.save()
    assert '<time datetime="2026-07-01T14:05:00+02:00">14:05</time>' in page_html(client, session)
    assert ">14:05</time>" in catch_up_html(session)


def test_a_renamed_event_or_session_moves_the_permalinks_at_once(client, session, blogger):
    entry = post_entry(session, blogger, "Linked")
    event = session.event
    event.slug = "smw-london-2013"
    event.save()
    session.refresh_from_db()
    session.slug = "like-minds-immersive"
    session.save()
    url = f"/events/smw-london-2013/like-minds-immersive/entries/{entry.pk}/"
    assert f'href="{url}"' in catch_up_html(session)
    assert client.get(url).status_code == 200


def test_a_save_that_changes_no_shown_name_renders_nothing(session, blogger, euan, renders):
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    renders.clear()
    blogger.last_login = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    blogger.save(update_fields=["last_login"])
    blogger.email = "ben@example.org"
    blogger.save()
    euan.link = "https://euansemple.example/"
    euan.save()
    actions.set_session_status(session=session, status="ended")
    assert "entries/partials/entry.html" not in renders


def test_a_hidden_entry_is_left_alone_by_a_rename(session, blogger):
    entry = post_entry(session, blogger, "Hidden")
    actions.hide_entry(entry=entry)
    before = Entry.objects.get(pk=entry.pk).fragment
    get_user_model().objects.filter(pk=blogger.pk).update(first_name="Nobody")
    blogger.refresh_from_db()
    blogger.first_name = "Someone"
    blogger.save()
    assert Entry.objects.get(pk=entry.pk).fragment == before


@pytest.mark.django_db(transaction=True)
def test_a_rename_saved_outside_any_transaction_still_renders_the_fragments(session, blogger, euan):
    # A view in autocommit (no ATOMIC_REQUESTS) saving a speaker: the re-render takes its
    # own transaction for its row locks (on PostgreSQL select_for_update needs one; this
    # raised TransactionManagementError there before).
    quote = post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    euan.name = "Euan Semple, renamed outside a transaction"
    euan.save()
    quote.refresh_from_db()
    assert "renamed outside a transaction" in quote.fragment
