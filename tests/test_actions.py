"""The one funnel: every change to a stream goes through entries.actions, numbered, pushed.

Pushes are seen as the channel layer receives them, inside
django_capture_on_commit_callbacks: nothing here needs a real commit.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from entries import actions, stream
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


def fresh(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


def bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'test')[1]}"}


# ---- Each action: one numbered change, pushed with its own state -------------------------


def test_every_action_takes_the_next_number_and_pushes_it(session, blogger, pushed):
    with pushed() as layer:
        entry = actions.post_entry(session=session, author=blogger, body="First")
        actions.edit_entry(entry=entry, body="First, corrected")
        actions.set_key_moment(entry=entry, value=True)
        actions.hide_entry(entry=entry)
        actions.restore_entry(entry=entry)
        actions.set_session_status(session=session, status="ended", by=blogger)
    changes = layer.changes()
    assert [(c.get("action", c["type"]), c["seq"], c["_seq"]) for c in changes] == [
        ("created", 1, 1),
        ("updated", 2, 2),
        ("updated", 3, 3),
        ("deleted", 4, 4),
        ("restored", 5, 5),
        ("status", 6, 6),
    ]
    assert {c["_group"] for c in changes} == {f"session.{session.pk}"}
    assert "First, corrected" in changes[4]["html"] and changes[4]["key_moment"] is True
    assert "html" not in changes[3]
    assert fresh(session).last_seq == 6


def test_two_changes_in_one_transaction_go_out_with_their_own_numbers_and_states(
    session, blogger, entry, pushed
):
    with pushed() as layer, transaction.atomic():
        actions.edit_entry(entry=entry, body="Edited, then hidden at once")
        actions.hide_entry(entry=entry)
    edited, hidden = layer.changes()
    assert (edited["action"], edited["seq"]) == ("updated", 2)
    assert "Edited, then hidden at once" in edited["html"]
    assert (hidden["action"], hidden["seq"], hidden["key_moment"]) == ("deleted", 3, False)


def test_a_rolled_back_change_is_never_pushed_and_gives_its_number_back(
    session, blogger, entry, pushed
):
    with pushed() as layer, pytest.raises(RuntimeError), transaction.atomic():
        actions.edit_entry(entry=entry, body="Never seen")
        raise RuntimeError("the request failed after the edit")
    assert layer.sent == []
    assert fresh(session).last_seq == 1


def test_changes_that_change_nothing_take_no_number_and_push_nothing(
    session, blogger, entry, pushed
):
    body = entry.body
    with pushed() as layer:
        assert actions.edit_entry(entry=entry) is False
        assert actions.edit_entry(entry=entry, body=body) is False
        assert actions.edit_entry(entry=entry, body=f"  {body}\n") is False  # stripped: same
        assert actions.set_key_moment(entry=entry, value=False) is False
        assert actions.restore_entry(entry=entry) is False  # not hidden
        assert actions.set_session_status(session=session, status="live") is False
        actions.hide_entry(entry=entry)
        assert actions.hide_entry(entry=entry) is False
    assert len(layer.sent) == 1
    assert fresh(session).last_seq == 2


def test_a_key_moment_is_not_an_edit(session, blogger, entry, pushed):
    with pushed() as layer:
        actions.set_key_moment(entry=entry, value=True)
        actions.set_key_moment(entry=entry, value=False)
    entry.refresh_from_db()
    assert not entry.was_edited and entry.edited_at is None
    assert all("edited" not in change["html"] for change in layer.changes())
    actions.edit_entry(entry=entry, body="Now really edited")
    entry.refresh_from_db()
    assert entry.was_edited and ">edited<" in stream.entry_html(entry)


def test_an_empty_patch_changes_nothing(client, session, blogger, entry, pushed):
    with pushed() as layer:
        response = client.patch(
            f"/api/entries/{entry.pk}", "{}", content_type="application/json", **bearer(blogger)
        )
    assert response.status_code == 200 and response.json()["seq"] == 1
    assert layer.sent == [] and fresh(session).last_seq == 1


# ---- Hidden stays hidden, on every door; restoring is its own change ---------------------


@pytest.fixture
def hidden(entry):
    actions.hide_entry(entry=entry)
    return entry


def test_a_hidden_entry_cannot_be_changed_through_any_door(
    client, session, blogger, organiser, hidden, pushed
):
    with pushed() as layer:
        with pytest.raises(actions.EntryHidden):
            actions.edit_entry(entry=hidden, body="Leaked")
        with pytest.raises(actions.EntryHidden):
            actions.set_key_moment(entry=hidden, value=True)
        api = client.patch(
            f"/api/entries/{hidden.pk}",
            json.dumps({"body": "Leaked"}),
            content_type="application/json",
            **bearer(blogger),
        )
        assert api.status_code == 410 and "restore it" in api.json()["detail"]
        client.force_login(blogger)
        edit = client.post(
            reverse("entries:edit", args=[hidden.pk]), {"kind": "text", "body": "Leaked"}
        )
        assert edit.status_code == 410 and "restore it" in edit.content.decode()
        marked = client.post(reverse("entries:key_moment", args=[hidden.pk]), {"key_moment": "on"})
        assert marked.status_code == 410
        admin = Client()
        admin.force_login(organiser)
        url = reverse("admin:entries_entry_change", args=[hidden.pk])
        page = admin.get(url).content.decode()
        assert 'name="body"' not in page  # read-only
        admin.post(
            url, {"kind": "text", "body": "Leaked", "attribution_name": "", "source_url": ""}
        )
    hidden.refresh_from_db()
    assert hidden.body != "Leaked" and hidden.is_deleted and not hidden.key_moment
    assert layer.sent == [] and fresh(session).last_seq == 2


def test_restoring_brings_the_entry_back_live_and_in_catch_up(
    client, session, blogger, hidden, pushed
):
    with pushed() as layer:
        response = client.post(f"/api/entries/{hidden.pk}/restore", **bearer(blogger))
    assert response.status_code == 200 and response.json()["deleted"] is False
    (restored,) = layer.changes()
    assert (restored["action"], restored["seq"], restored["id"]) == ("restored", 3, hidden.pk)
    assert "<strong>Like Minds</strong>" in restored["html"]
    # A reader who saw it go gets it back in its current state; one who never had it gets
    # it as new; a reader who arrives after sees it on the page.
    _, saw_it_go, _ = stream.catch_up(session.pk, 2)
    assert [(p["action"], p["id"]) for p in saw_it_go] == [("updated", hidden.pk)]
    _, never_had_it, _ = stream.catch_up(session.pk, 0)
    assert [(p["action"], p["id"]) for p in never_had_it] == [("created", hidden.pk)]
    assert f'id="entry-{hidden.pk}"' in client.get(session.get_absolute_url()).content.decode()


def test_the_console_offers_undo_after_a_delete(client, session, blogger, entry):
    client.force_login(blogger)
    response = client.post(reverse("entries:delete", args=[entry.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Entry deleted" in html and reverse("entries:restore", args=[entry.pk]) in html
    response = client.post(reverse("entries:restore", args=[entry.pk]), HTTP_HX_REQUEST="true")
    assert (
        response.status_code == 200
        and f'id="console-entry-{entry.pk}"' in response.content.decode()
    )
    entry.refresh_from_db()
    assert not entry.is_deleted


# ---- The admin changes streams through the actions too ----------------------------------


def test_the_admin_edits_and_moderates_through_the_actions(session, organiser, entry, pushed):
    admin = Client()
    admin.force_login(organiser)
    with pushed() as layer:
        admin.post(
            reverse("admin:entries_entry_change", args=[entry.pk]),
            {
                "kind": "text",
                "body": "Corrected by an organiser",
                "attribution_name": "",
                "source_url": "",
            },
        )
        changelist = reverse("admin:entries_entry_changelist")
        for name in ("mark_key_moments", "hide_entries", "restore_entries"):
            # Hiding asks why first (the audit log keeps it), then hides.
            form = {"action": name, "_selected_action": [entry.pk]}
            admin.post(changelist, form)
            if name == "hide_entries":
                admin.post(changelist, {**form, "confirm": "yes", "reason": "Duplicate"})
        admin.post(
            reverse("admin:talks_session_changelist"),
            {"action": "end_sessions", "_selected_action": [session.pk]},
        )
    assert [(c.get("action", c["type"]), c["seq"]) for c in layer.changes()] == [
        ("updated", 2),
        ("updated", 3),
        ("deleted", 4),
        ("restored", 5),
        ("status", 6),
    ]


def test_no_admin_form_can_change_a_sessions_status_behind_the_stream(session, organiser, event):
    admin = Client()
    admin.force_login(organiser)
    event_page = admin.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert "sessions-0-title" in event_page and "sessions-0-status" not in event_page
    session_page = admin.get(
        reverse("admin:talks_session_change", args=[session.pk])
    ).content.decode()
    assert 'name="status"' not in session_page


# ---- A session's statuses, and what bloggers may do after the end -----------------------


def test_a_started_session_never_goes_back_to_upcoming(client, session, blogger):
    client.force_login(blogger)
    url = reverse("entries:status", kwargs={"event": session.event.slug, "slug": session.slug})
    response = client.post(url, {"status": "upcoming"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert response.content.decode() == (
        "A session that has started or ended cannot go back to upcoming."
    )
    assert fresh(session).status == "live" and fresh(session).last_seq == 0


def test_bloggers_post_wrap_ups_after_the_end_until_the_wrap_up_time_is_over(
    client, session, blogger, organiser, settings
):
    settings.SESSION_WRAP_UP_HOURS = 24
    actions.set_session_status(session=session, status="ended", by=blogger)
    client.force_login(blogger)
    create = reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})
    response = client.post(create, {"kind": "text", "body": "Wrap-up: slides are online"})
    assert response.status_code == 302
    console = client.get(session.get_console_url()).content.decode()
    assert "You can still post wrap-up entries until" in console

    Session.objects.filter(pk=session.pk).update(ended_at=timezone.now() - dt.timedelta(hours=25))
    response = client.post(create, {"kind": "text", "body": "Too late"})
    assert response.status_code == 403
    assert "wrap-up time is over: ask an organiser to reopen it" in response.content.decode()
    api = Client().post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "Too late"}),
        content_type="application/json",
        **bearer(blogger),
    )
    assert api.status_code == 403 and "wrap-up time is over" in api.json()["detail"]
    console = client.get(session.get_console_url()).content.decode()
    assert "wrap-up time is over" in console and 'id="compose"' not in console
    reopen = reverse("entries:status", kwargs={"event": session.event.slug, "slug": session.slug})
    assert client.post(reopen, {"status": "live"}).status_code == 409
    assert session.entries.count() == 1

    # Organisers keep the record: they may still post, and reopen the session.
    client.force_login(organiser)
    assert client.post(create, {"kind": "text", "body": "Correction"}).status_code == 302
    assert client.post(reopen, {"status": "live"}).status_code == 302
    assert fresh(session).status == "live" and fresh(session).ended_at is None


# ---- What the console shows a co-blogger ------------------------------------------------


def test_a_co_blogger_sees_controls_only_on_their_own_entries(
    client, session, blogger, django_user_model
):
    colleague = django_user_model.objects.create_user("cara")
    session.bloggers.add(colleague)
    mine = post_entry(session, colleague, "Cara's")
    theirs = post_entry(session, blogger, "Ben's")
    client.force_login(colleague)
    console = client.get(session.get_console_url()).content.decode()
    assert reverse("entries:edit", args=[mine.pk]) in console
    assert reverse("entries:delete", args=[mine.pk]) in console
    assert reverse("entries:edit", args=[theirs.pk]) not in console
    assert reverse("entries:delete", args=[theirs.pk]) not in console
    assert reverse("entries:key_moment", args=[theirs.pk]) not in console
    assert "Ben’s" in console  # shown, just not changeable


def test_an_archive_loads_only_into_a_new_session_and_sets_its_counter(session, blogger, entry):
    from django.db import transaction as db_transaction

    from entries.models import Entry as EntryModel

    archived = EntryModel(session=session, author=blogger, body="From the archive")
    archived.created_seq = archived.seq = 7
    with (
        pytest.raises(actions.StreamRefused, match="only into a new session"),
        db_transaction.atomic(),
    ):
        actions.load_archived_stream(session=session, entries=[archived], last_seq=9)
    assert fresh(session).last_seq == 1 and session.entries.count() == 1
