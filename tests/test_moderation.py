"""Moderation by an event's organisers, and its audit log.

Hide with a reason, restore, pin one entry above a session's stream, feature entries on the
event's front page: each a change in the stream (entries.actions), pushed with its own seq,
the same in catch-up as live, and written to the audit log in the change's transaction.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import reverse

from entries import actions, stream
from entries.models import AuditEvent, Entry
from tests.conftest import post_entry
from tests.test_api import bearer

pytestmark = pytest.mark.django_db


def post_json(client, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return client.post(url, body, content_type="application/json", **headers)


def entry_changes(layer) -> list[tuple]:
    return [
        (c["action"], c["id"], c["seq"], c["pinned"], c["featured"])
        for c in layer.changes()
        if c["type"] == "entry"
    ]


# ---- The actions ----------------------------------------------------------------------


def test_an_organiser_hides_someone_elses_entry_with_a_reason_written_with_the_change(
    session, blogger, organiser, entry, pushed
):
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.hide_entry(entry=entry, by=organiser, reason="  Off topic  ") is True
    (change,) = layer.changes()
    assert (change["action"], change["seq"]) == ("deleted", 2)
    (row,) = AuditEvent.objects.all()
    assert (row.action, row.actor, row.entry, row.session, row.event) == (
        "hidden",
        organiser,
        entry,
        session,
        session.event,
    )
    assert (row.reason, row.seq, row.before, row.after) == (
        "Off topic",
        2,
        {"hidden": False},
        {"hidden": True},
    )
    # Hidden again: nothing changes, nothing is sent, nothing is logged.
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.hide_entry(entry=entry, by=organiser, reason="Again") is False
    assert layer.changes() == [] and AuditEvent.objects.count() == 1


def test_hiding_someone_elses_entry_needs_a_reason_and_the_author_needs_none(
    session, blogger, organiser, entry, pushed
):
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        for reason in ("", "   ", None):
            with pytest.raises(actions.ReasonRefused) as refused:
                actions.hide_entry(entry=entry, by=organiser, reason=reason)
            assert refused.value.status == 422 and "reason" in str(refused.value)
        with pytest.raises(actions.ReasonRefused, match="at most 500"):
            actions.hide_entry(entry=entry, by=organiser, reason="x" * 501)
        with pytest.raises(actions.ReasonRefused):
            actions.hide_entry(entry=entry, by=organiser, reason="nul\x00")
    assert layer.changes() == [] and not AuditEvent.objects.exists()
    entry.refresh_from_db()
    assert not entry.is_deleted and entry.seq == 1
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.hide_entry(entry=entry, by=blogger) is True
        assert actions.restore_entry(entry=entry, by=organiser) is True
    assert [c["action"] for c in layer.changes()] == ["deleted", "restored"]
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor", "reason")) == [
        ("hidden", blogger.pk, ""),
        ("restored", organiser.pk, ""),
    ]


def test_the_audit_row_goes_with_its_change_when_the_transaction_rolls_back(
    organiser, entry, pushed
):
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        with pytest.raises(RuntimeError), transaction.atomic():
            actions.pin_entry(entry=entry, by=organiser)
            raise RuntimeError("the caller's transaction fails")
    assert layer.changes() == [] and not AuditEvent.objects.exists()
    assert not Entry.objects.get(pk=entry.pk).pinned


def test_pinning_another_entry_unpins_the_first_each_a_change_of_its_own(
    session, blogger, organiser, pushed
):
    first = post_entry(session, blogger, "First")  # seq 1
    second = post_entry(session, blogger, "Second")  # seq 2
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.pin_entry(entry=first, by=organiser, reason="The news") is True
        assert actions.pin_entry(entry=first, by=organiser) is False  # already
        assert actions.pin_entry(entry=second, by=organiser) is True
    assert entry_changes(layer) == [
        ("updated", first.pk, 3, True, False),
        ("updated", first.pk, 4, False, False),
        ("updated", second.pk, 5, True, False),
    ]
    assert "Pinned" in layer.changes()[2]["html"] and "Pinned" not in layer.changes()[1]["html"]
    assert list(Entry.objects.filter(pinned=True)) == [second]
    rows = list(AuditEvent.objects.order_by("pk").values_list("action", "entry", "seq", "reason"))
    assert rows == [
        ("pinned", first.pk, 3, "The news"),
        ("unpinned", first.pk, 4, f"Entry #{second.pk} was pinned in its place."),
        ("pinned", second.pk, 5, ""),
    ]
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.unpin_entry(entry=second, by=organiser) is True
        assert actions.unpin_entry(entry=second, by=organiser) is False
    assert entry_changes(layer) == [("updated", second.pk, 6, False, False)]


def test_the_database_holds_one_pinned_entry_per_session_at_most(session, blogger):
    from django.db import IntegrityError

    first = post_entry(session, blogger, "First")
    second = post_entry(session, blogger, "Second")
    Entry.objects.filter(pk=first.pk).update(pinned=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.filter(pk=second.pk).update(pinned=True)


def test_a_hidden_pinned_entry_is_no_longer_pinned_and_is_not_pinned_again_by_restoring(
    session, organiser, entry, pushed
):
    actions.pin_entry(entry=entry, by=organiser)
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        actions.hide_entry(entry=entry, by=organiser, reason="Wrong session")
        actions.restore_entry(entry=entry, by=organiser)
    assert entry_changes(layer) == [
        ("deleted", entry.pk, 3, False, False),
        ("restored", entry.pk, 4, False, False),
    ]
    hidden = AuditEvent.objects.get(action="hidden")
    assert (hidden.before, hidden.after) == (
        {"hidden": False, "pinned": True},
        {"hidden": True, "pinned": False},
    )
    assert not Entry.objects.get(pk=entry.pk).pinned


def test_a_hidden_entry_cannot_be_pinned_or_featured(organiser, entry, pushed):
    actions.hide_entry(entry=entry, by=organiser, reason="Spam")
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        for change in (
            actions.pin_entry,
            actions.unpin_entry,
            actions.feature_entry,
            actions.unfeature_entry,
        ):
            with pytest.raises(actions.EntryHidden):
                change(entry=entry, by=organiser)
    assert layer.changes() == [] and AuditEvent.objects.count() == 1


def test_featuring_is_a_change_readers_receive_and_the_log_keeps(organiser, entry, pushed):
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        assert actions.feature_entry(entry=entry, by=organiser, reason="Best quote") is True
        assert actions.feature_entry(entry=entry, by=organiser) is False
        assert actions.unfeature_entry(entry=entry, by=organiser) is True
    assert entry_changes(layer) == [
        ("updated", entry.pk, 2, False, True),
        ("updated", entry.pk, 3, False, False),
    ]
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "before", "after")) == [
        ("featured", {"featured": False}, {"featured": True}),
        ("unfeatured", {"featured": True}, {"featured": False}),
    ]


def test_edits_by_someone_other_than_the_author_are_logged_and_shown(
    client, session, blogger, organiser, entry, euan
):
    actions.edit_entry(entry=entry, by=blogger, body="The author's own edit")
    assert not AuditEvent.objects.exists()  # the revisions keep the author's own
    assert actions.edit_entry(entry=entry, by=organiser, body="Corrected", reason="A typo")
    row = AuditEvent.objects.get()
    assert (row.action, row.actor, row.reason) == ("edited", organiser, "A typo")
    assert (row.before, row.after) == ({"body": "The author's own edit"}, {"body": "Corrected"})
    entry.refresh_from_db()
    assert entry.edited_by_other
    page = client.get(entry.get_absolute_url()).content.decode()
    assert "edited by an organiser" in page
    assert "edited by an organiser" in client.get(session.get_absolute_url()).content.decode()
    # A key-moment mark is not an edit; a change of attribution names the speaker's id.
    actions.edit_entry(entry=entry, by=organiser, key_moment=True)
    assert AuditEvent.objects.count() == 1
    actions.edit_entry(entry=entry, by=organiser, kind="quote", attribution_speaker=euan)
    latest = AuditEvent.objects.latest("pk")
    assert latest.after == {"kind": "quote", "attribution_speaker": euan.pk}
    # The author's own later edit: no longer "by an organiser".
    actions.restore_revision(revision=entry.revisions.last(), by=blogger)
    entry.refresh_from_db()
    assert not entry.edited_by_other
    assert "edited by an organiser" not in client.get(entry.get_absolute_url()).content.decode()
    revision = entry.revisions.first()
    actions.restore_revision(revision=revision, by=organiser)
    assert AuditEvent.objects.latest("pk").action == "revision_restored"


def test_the_log_is_kept_while_the_entry_is_hidden(organiser, entry):
    actions.feature_entry(entry=entry, by=organiser)
    actions.hide_entry(entry=entry, by=organiser, reason="Spam")
    assert AuditEvent.objects.filter(entry=entry).count() == 2


# ---- Catch-up gives what live gave ---------------------------------------------------------


def final_states(payloads: list[dict]) -> dict[int, tuple]:
    """Each entry's state after applying the payloads in seq order, as live.js would."""
    state: dict[int, tuple] = {}
    for payload in sorted(payloads, key=lambda p: p["seq"]):
        if payload.get("type") == "entry":
            shown = payload["action"] != "deleted"
            state[payload["id"]] = (shown, payload["pinned"], payload["featured"])
    return state


def test_pinned_in_catch_up_is_what_live_readers_saw(session, blogger, organiser, pushed):
    first = post_entry(session, blogger, "First")
    second = post_entry(session, blogger, "Second")
    third = post_entry(session, blogger, "Third")
    after = 3  # a reader who saw the three posts
    with pushed() as layer:
        layer.sent.clear()  # only this block's pushes
        actions.pin_entry(entry=first, by=organiser)
        actions.feature_entry(entry=third, by=organiser)
        actions.pin_entry(entry=second, by=organiser)
        actions.hide_entry(entry=third, by=organiser, reason="Duplicate")
    live = final_states(layer.changes())
    verdict, payloads, cursor = stream.catch_up(session.pk, after)
    assert verdict == "ok" and cursor == 8  # pin, feature, unpin + pin, hide
    assert (
        final_states(payloads)
        == live
        == {
            first.pk: (True, False, False),
            second.pk: (True, True, False),
            third.pk: (False, False, False),
        }
    )
    # From before anything was posted: the same result, entries created with their flags.
    verdict, payloads, _ = stream.catch_up(session.pk, 0)
    assert {p["id"]: (p["action"], p["pinned"]) for p in payloads} == {
        first.pk: ("created", False),
        second.pk: ("created", True),
    }


def test_the_session_page_shows_the_pinned_entry_above_the_stream(
    client, session, blogger, organiser, settings
):
    settings.ENTRIES_PER_PAGE = 2
    old = post_entry(session, blogger, "An old one, pinned")
    for number in range(3):
        post_entry(session, blogger, f"Later {number}")
    actions.pin_entry(entry=old, by=organiser)
    page = client.get(session.get_absolute_url()).content.decode()
    slot = page.index('id="pinned-entry"')
    assert page.index(f'id="entry-{old.pk}"') > slot
    assert page.index(f'id="entry-{old.pk}"') < page.index('id="entries"')
    assert page.count(f'id="entry-{old.pk}"') == 1
    assert "entry__badge--pinned" in page
    actions.unpin_entry(entry=old, by=organiser)
    page = client.get(session.get_absolute_url()).content.decode()
    assert f'id="entry-{old.pk}"' not in page  # back in its place, on an older page
    assert (
        'id="pinned-entry" class="pinned-slot" role="region" aria-label="Pinned update" hidden'
        in page
    )


def test_the_event_page_shows_featured_entries(client, session, organiser, entry):
    assert "featured-heading" not in client.get(session.event.get_absolute_url()).content.decode()
    actions.feature_entry(entry=entry, by=organiser)
    page = client.get(session.event.get_absolute_url()).content.decode()
    assert "featured-heading" in page and f'id="entry-{entry.pk}"' in page
    actions.hide_entry(entry=entry, by=organiser, reason="Spam")
    page = client.get(session.event.get_absolute_url()).content.decode()
    assert "featured-heading" not in page


# ---- The API ----------------------------------------------------------------------------


def test_the_api_hides_with_a_reason_and_refuses_without_one(client, blogger, organiser, entry):
    url = f"/api/entries/{entry.pk}/hide"
    refused = post_json(client, url, {}, **bearer(organiser))
    assert refused.status_code == 422
    assert "reason" in refused.json()["detail"]
    assert refused.json()["errors"][0]["loc"] == ["body", "reason"]
    assert post_json(client, url, {"reason": 5}, **bearer(organiser)).status_code == 422
    assert post_json(client, url, ["x"], **bearer(organiser)).status_code == 422
    assert client.delete(f"/api/entries/{entry.pk}", **bearer(organiser)).status_code == 422
    assert not Entry.objects.get(pk=entry.pk).is_deleted
    hidden = post_json(client, url, {"reason": "Off topic"}, **bearer(organiser))
    assert hidden.status_code == 200 and hidden.json()["deleted"] is True
    again = post_json(client, url, {"reason": "Off topic"}, **bearer(organiser))
    assert again.status_code == 200
    restored = post_json(client, f"/api/entries/{entry.pk}/restore", None, **bearer(organiser))
    assert restored.status_code == 200 and restored.json()["deleted"] is False
    # The author: no reason needed, no body at all.
    own = client.post(url, **bearer(blogger))
    assert own.status_code == 200 and own.json()["deleted"] is True


def test_the_api_pins_and_features_for_organisers_only(
    client, session, blogger, organiser, nyc_organiser, entry
):
    for who in (blogger, nyc_organiser):
        for path in ("pin", "unpin", "feature", "unfeature"):
            response = post_json(client, f"/api/entries/{entry.pk}/{path}", {}, **bearer(who))
            assert response.status_code == 403, (who, path)
            assert response.json()["detail"] == "Only the organisers of this event can do that."
    assert client.post(f"/api/entries/{entry.pk}/pin").status_code == 401
    pinned = post_json(
        client, f"/api/entries/{entry.pk}/pin", {"reason": "News"}, **bearer(organiser)
    )
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    featured = client.post(f"/api/entries/{entry.pk}/feature", **bearer(organiser))
    assert featured.status_code == 200 and featured.json()["featured"] is True
    assert (
        client.post(f"/api/entries/{entry.pk}/unpin", **bearer(organiser)).json()["pinned"] is False
    )
    assert (
        client.post(f"/api/entries/{entry.pk}/unfeature", **bearer(organiser)).json()["featured"]
        is False
    )
    assert client.post("/api/entries/999999/pin", **bearer(organiser)).status_code == 404
    actions.hide_entry(entry=entry, by=organiser, reason="Spam")
    gone = client.post(f"/api/entries/{entry.pk}/pin", **bearer(organiser))
    assert gone.status_code == 410 and "restore it" in gone.json()["detail"]
    assert Entry.objects.filter(pinned=True).count() == 0


def test_the_api_reads_the_audit_log_with_filters(
    client, session, other_session, blogger, outsider, organiser, entry
):
    theirs = post_entry(other_session, outsider, "Elsewhere")
    actions.pin_entry(entry=entry, by=organiser, reason="News")
    actions.hide_entry(entry=theirs, by=organiser, reason="Spam")
    actions.hide_entry(entry=entry, by=blogger)
    url = f"/api/events/{session.event.slug}/audit"
    response = client.get(url, **bearer(organiser))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["action"] for r in results] == ["hidden", "hidden", "pinned"]
    newest = results[0]
    assert set(newest) >= {"action", "entry", "actor", "reason", "at", "session", "before", "after"}
    assert (newest["entry"], newest["actor"], newest["reason"], newest["session"]) == (
        entry.pk,
        blogger.username,
        "",
        session.pk,
    )
    assert newest["before"] == {"hidden": False, "pinned": True}
    assert newest["at"].startswith("20") and "T" in newest["at"]

    def actions_for(**query):
        answer = client.get(url, query, **bearer(organiser))
        assert answer.status_code == 200, answer.content
        return [(r["action"], r["entry"]) for r in answer.json()["results"]]

    assert actions_for(session=other_session.pk) == [("hidden", theirs.pk)]
    assert actions_for(actor=organiser.username) == [("hidden", theirs.pk), ("pinned", entry.pk)]
    assert actions_for(action="pinned") == [("pinned", entry.pk)]
    assert actions_for(entry=entry.pk) == [("hidden", entry.pk), ("pinned", entry.pk)]
    assert actions_for(actor="nobody") == []
    page = client.get(url, {"limit": 1}, **bearer(organiser)).json()
    assert page["has_more"] is True
    rest = client.get(url, {"before": page["results"][0]["id"]}, **bearer(organiser)).json()
    assert len(rest["results"]) == 2
    assert client.get(url, {"action": "exploded"}, **bearer(organiser)).status_code == 422
    assert client.get(url, {"session": "x"}, **bearer(organiser)).status_code == 422
    assert client.get(url, **bearer(blogger)).status_code == 403
    assert client.get(url).status_code == 401
    missing = client.get("/api/events/nowhere/audit", **bearer(organiser))
    assert missing.status_code == 404 and missing.json()["detail"]


# ---- The console and the organisers' audit page -------------------------------------------


def test_the_console_offers_organisers_moderation_that_works_without_javascript(
    client, session, blogger, organiser, entry
):
    client.force_login(organiser)
    console = client.get(session.get_console_url()).content.decode()
    assert "Pin to top" in console and "Feature on the event page" in console
    assert "Hide…" in console
    # Without JavaScript: the question page asks for the reason; without one, a form error.
    question = client.get(reverse("entries:delete", args=[entry.pk])).content.decode()
    assert 'name="reason"' in question and "required" in question
    refused = client.post(reverse("entries:delete", args=[entry.pk]), {"reason": ""})
    assert refused.status_code == 422 and "Give a reason" in refused.content.decode()
    hidden = client.post(reverse("entries:delete", args=[entry.pk]), {"reason": "Off topic"})
    assert hidden.status_code == 302
    actions.restore_entry(entry=entry, by=organiser)
    pinned = client.post(reverse("entries:pin", args=[entry.pk]), {"value": "on"})
    assert pinned.status_code == 302 and Entry.objects.get(pk=entry.pk).pinned
    # With htmx: the inline form, then the entry with its controls.
    inline = client.get(reverse("entries:delete", args=[entry.pk]), HTTP_HX_REQUEST="true")
    assert 'name="reason"' in inline.content.decode()
    response = client.post(
        reverse("entries:feature", args=[entry.pk]), {"value": "on"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Unfeature" in response.content.decode()
    assert "Unpin" in response.content.decode()
    assert client.post(reverse("entries:pin", args=[entry.pk]), {"value": "x"}).status_code == 400
    # A blogger sees no such controls and may not use them.
    client.force_login(blogger)
    assert "Pin to top" not in client.get(session.get_console_url()).content.decode()
    assert client.post(reverse("entries:pin", args=[entry.pk]), {"value": "off"}).status_code == 403


def test_the_audit_page_lists_filters_and_pages(
    client, session, other_session, blogger, outsider, organiser, entry, monkeypatch
):
    from organisers import audit

    theirs = post_entry(other_session, outsider, "Elsewhere")
    actions.pin_entry(entry=entry, by=organiser)
    actions.hide_entry(entry=theirs, by=organiser, reason="Spam from a bot")
    actions.edit_entry(entry=entry, by=organiser, body="Corrected")
    url = reverse("organisers:audit", args=[session.event.slug])
    client.force_login(blogger)
    assert client.get(url).status_code == 403
    client.force_login(organiser)
    assert (
        url in client.get(reverse("organisers:event", args=[session.event.slug])).content.decode()
    )
    page = client.get(url).content.decode()
    assert "Spam from a bot" in page and "Pinned" in page and "Edited" in page
    assert "Restore" in page  # the hidden entry can be brought back from here
    filtered = client.get(url, {"session": other_session.pk}).content.decode()
    assert "Spam from a bot" in filtered and "Corrected" not in filtered
    by_action = client.get(url, {"action": "edited"}).content.decode()
    assert "Corrected" in by_action and "Spam from a bot" not in by_action
    by_person = client.get(url, {"actor": organiser.username}).content.decode()
    assert "Spam from a bot" in by_person
    assert client.get(url, {"action": "exploded"}).status_code == 400
    assert client.get(url, {"session": "abc"}).status_code == 400
    monkeypatch.setattr(audit, "PER_PAGE", 2)
    first = client.get(url).content.decode()
    assert "Page 1 of 2" in first
    second = client.get(url, {"page": 2}).content.decode()
    assert "Page 2 of 2" in second and "Pinned" in second
    restore = client.post(
        reverse("entries:restore", args=[theirs.pk]), {"next": url + "?action=hidden"}
    )
    assert restore.status_code == 302 and restore["Location"] == url + "?action=hidden"
    assert not Entry.objects.get(pk=theirs.pk).is_deleted
    evil = client.post(reverse("entries:restore", args=[theirs.pk]), {"next": "//evil.example/"})
    assert "evil" not in evil["Location"]
