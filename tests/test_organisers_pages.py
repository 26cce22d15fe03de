"""The organisers' own pages: events, sessions, speakers, bloggers and the programme import.

London's organiser (`organiser`) runs the `event`; New York's (`nyc_organiser`) runs
`new_york` and is refused on every one of London's pages.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from organisers import invitations
from sessions.models import Session, Speaker
from tests.conftest import PASSWORD, post_entry

pytestmark = pytest.mark.django_db

PROGRAMMES = Path(__file__).parent / "data" / "programmes"


@pytest.fixture
def as_organiser(client, organiser):
    client.force_login(organiser)
    return client


def session_data(**changes) -> dict:
    data = {
        "title": "Thingification",
        "slug": "",
        "room": "Hub Westminster",
        "starts_at": "2026-11-24T09:00",
        "ends_at": "2026-11-24T10:00",
        "description": "",
    }
    return {**data, **changes}


def test_an_organiser_sees_their_events_only(as_organiser, event, new_york):
    page = as_organiser.get(reverse("organisers:events"))
    assert event.name in page.text and new_york.name not in page.text


def test_the_event_page_lists_sessions_with_their_controls(as_organiser, event, session):
    page = as_organiser.get(reverse("organisers:event", args=[event.slug]))
    assert page.status_code == 200
    assert session.title in page.text and ">End<" in page.text


def test_a_new_session_takes_its_times_in_the_events_zone(client, nyc_organiser, new_york):
    client.force_login(nyc_organiser)
    url = reverse("organisers:session_new", args=[new_york.slug])
    response = client.post(url, session_data(follows_schedule="on"))
    assert response.status_code == 302
    session = new_york.sessions.get()
    # 09:00 in New York in November is 14:00 UTC.
    assert session.starts_at == dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC)
    assert session.slug == "thingification" and session.follows_schedule
    # And the form shows it back in New York's time.
    page = client.get(response["Location"])
    assert 'value="2026-11-24T09:00"' in page.text


def test_the_session_form_explains_what_is_wrong(as_organiser, event, session):
    url = reverse("organisers:session_new", args=[event.slug])
    response = as_organiser.post(url, session_data(ends_at="2026-11-24T08:00", title=""))
    assert response.status_code == 400
    assert "A session cannot end before it starts." in response.text
    assert "This field is required." in response.text
    taken = as_organiser.post(url, session_data(slug=session.slug))
    assert taken.status_code == 400 and "Another session of this event" in taken.text
    assert event.sessions.count() == 1


def test_an_organiser_edits_title_room_times_and_speakers(as_organiser, event, session, euan):
    url = reverse("organisers:session", args=[event.slug, session.pk])
    data = session_data(title="Renamed", room="Room 2", slug=session.slug, speakers=[euan.pk])
    assert as_organiser.post(url, data).status_code == 302
    session.refresh_from_db()
    assert (session.title, session.room, session.status) == ("Renamed", "Room 2", "live")
    assert list(session.speakers.all()) == [euan]


def test_status_changes_go_through_the_actions_and_are_numbered(
    as_organiser, event, session, django_capture_on_commit_callbacks
):
    before = session.last_seq
    url = reverse("organisers:status", args=[event.slug, session.pk])
    with django_capture_on_commit_callbacks() as pushes:
        assert as_organiser.post(url, {"status": "ended"}).status_code == 302
    session.refresh_from_db()
    assert session.status == "ended" and session.status_seq == before + 1 and len(pushes) == 1
    refused = as_organiser.post(url, {"status": "upcoming"}, follow=True)
    assert "cannot go back to upcoming" in refused.text
    session.refresh_from_db()
    assert session.status == "ended" and session.last_seq == before + 1


def test_bloggers_are_assigned_and_removed_per_session(as_organiser, event, other_session, blogger):
    args = [event.slug, other_session.pk]
    as_organiser.post(reverse("organisers:session_assign", args=args), {"session-username": "BEN"})
    assert other_session.can_blog(blogger)
    unknown = as_organiser.post(
        reverse("organisers:session_assign", args=args), {"session-username": "nobody"}, follow=True
    )
    assert "There is no active account" in unknown.text
    remove = reverse("organisers:session_unassign", args=[*args, blogger.pk])
    response = as_organiser.post(remove, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.content == b""
    assert not Session.objects.get(pk=other_session.pk).can_blog(blogger)


def test_a_blogger_of_the_event_may_blog_every_session(
    as_organiser, event, other_session, outsider
):
    other_session.bloggers.remove(outsider)
    url = reverse("organisers:bloggers", args=[event.slug])
    as_organiser.post(url, {"assign": "1", "event-username": "oscar"})
    assert Session.objects.get(pk=other_session.pk).can_blog(outsider)
    as_organiser.post(reverse("organisers:event_unassign", args=[event.slug, outsider.pk]))
    assert not Session.objects.get(pk=other_session.pk).can_blog(outsider)


def test_a_blogger_account_with_a_password_can_log_in_and_blog(as_organiser, event, session):
    url = reverse("organisers:bloggers", args=[event.slug])
    data = {"add_account": "1", "username": "bea", "first_name": "Bea", "how": "password"}
    weak = as_organiser.post(url, {**data, "password": "123"})
    assert weak.status_code == 400 and "too short" in weak.text
    assert as_organiser.post(url, {**data, "password": PASSWORD}).status_code == 302
    bea = get_user_model().objects.get(username="bea")
    assert Client().login(username="bea", password=PASSWORD)
    assert session.can_blog(bea) and bea.groups.filter(name="Bloggers").exists()
    taken = as_organiser.post(url, {**data, "username": "BEA", "password": PASSWORD})
    assert "That username is taken" in taken.text


def test_an_invitation_link_sets_a_password_once(as_organiser, event):
    url = reverse("organisers:bloggers", args=[event.slug])
    page = as_organiser.post(url, {"add_account": "1", "username": "ivy", "how": "invite"})
    link = re.search(r'id="invitation-link">http://testserver([^<]+)<', page.text).group(1)
    ivy = get_user_model().objects.get(username="ivy")
    assert not ivy.has_usable_password()
    guest = Client()
    assert "Choose a password" in guest.get(link).text
    new = {"new_password1": PASSWORD, "new_password2": PASSWORD}
    assert guest.post(link, new).status_code == 302
    assert guest.login(username="ivy", password=PASSWORD)
    again = Client().post(link, {"new_password1": "another one 123", "new_password2": "x"})
    assert again.status_code == 404 and "does not work" in again.text


def test_an_invitation_expires(as_organiser, event, monkeypatch, settings):
    url = reverse("organisers:bloggers", args=[event.slug])
    page = as_organiser.post(url, {"add_account": "1", "username": "ivy", "how": "invite"})
    link = re.search(r'id="invitation-link">http://testserver([^<]+)<', page.text).group(1)
    later = dt.datetime.now() + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(invitations.InvitationTokenGenerator, "_now", lambda self: later)
    assert Client().get(link).status_code == 404


@pytest.mark.parametrize("link", ["/invitation/xx/yy/", "/invitation/OTk5OTk5/abc-def/"])
def test_a_made_up_invitation_is_refused(client, link):
    assert client.get(link).status_code == 404


def test_speakers_are_added_and_edited(as_organiser, event, session, euan):
    url = reverse("organisers:speakers", args=[event.slug])
    as_organiser.post(url, {"name": "Alan Patrick", "affiliation": "Broadstuff", "link": ""})
    assert Speaker.objects.get(name="Alan Patrick").slug == "alan-patrick"
    bad = as_organiser.post(url, {"name": "X", "link": "javascript:alert(1)"})
    assert bad.status_code == 400
    edit = reverse("organisers:speaker", args=[event.slug, euan.pk])
    data = {"name": "Euan Semple", "affiliation": "Writer", "link": ""}
    assert as_organiser.post(edit, data).status_code == 302
    euan.refresh_from_db()
    assert euan.affiliation == "Writer"


def test_a_speaker_shared_with_another_city_is_not_this_organisers_to_edit(
    as_organiser, event, euan, new_york, session
):
    shared = Session.objects.create(
        event=new_york, title="NY", slug="ny", starts_at=session.starts_at,
        ends_at=session.ends_at,
    )  # fmt: skip
    shared.speakers.add(euan)
    edit = reverse("organisers:speaker", args=[event.slug, euan.pk])
    assert "also speaks at Social Media Week New York" in as_organiser.get(edit).text
    response = as_organiser.post(edit, {"name": "Hijacked", "affiliation": "", "link": ""})
    assert response.status_code == 403
    assert Speaker.objects.get(pk=euan.pk).name == "Euan Semple"


def london_pages(event, session, blogger, euan) -> list[tuple[str, str, dict]]:
    args = [event.slug, session.pk]
    return [
        ("get", reverse("organisers:event", args=[event.slug]), {}),
        ("get", reverse("organisers:session_new", args=[event.slug]), {}),
        ("post", reverse("organisers:session_new", args=[event.slug]), session_data()),
        ("get", reverse("organisers:session", args=args), {}),
        ("post", reverse("organisers:session", args=args), session_data(title="Hijacked")),
        ("post", reverse("organisers:status", args=args), {"status": "ended"}),
        ("post", reverse("organisers:session_assign", args=args), {"session-username": "nadia"}),
        ("post", reverse("organisers:session_unassign", args=[*args, blogger.pk]), {}),
        ("get", reverse("organisers:speakers", args=[event.slug]), {}),
        ("post", reverse("organisers:speakers", args=[event.slug]), {"name": "Z"}),
        ("get", reverse("organisers:speaker", args=[event.slug, euan.pk]), {}),
        ("get", reverse("organisers:bloggers", args=[event.slug]), {}),
        ("post", reverse("organisers:bloggers", args=[event.slug]), {"assign": "1"}),
        ("post", reverse("organisers:event_unassign", args=[event.slug, blogger.pk]), {}),
        ("post", reverse("organisers:invite_again", args=[event.slug, blogger.pk]), {}),
        ("get", reverse("organisers:import", args=[event.slug]), {}),
        ("post", reverse("organisers:import_apply", args=[event.slug]), {}),
    ]


def test_an_organiser_of_new_york_is_refused_on_every_london_page(
    client, nyc_organiser, blogger, event, session, euan
):
    event.bloggers.add(blogger)
    client.force_login(nyc_organiser)
    before = (
        Session.objects.get(pk=session.pk).title,
        session.bloggers.count(),
        Speaker.objects.count(),
    )
    for method, url, data in london_pages(event, session, blogger, euan):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url, response.status_code)
    assert before == (
        Session.objects.get(pk=session.pk).title,
        session.bloggers.count(),
        Speaker.objects.count(),
    )
    assert event.bloggers.filter(pk=blogger.pk).exists()


def test_bloggers_and_readers_are_refused_and_anonymous_sent_to_log_in(
    client, blogger, event, session, euan
):
    pages = london_pages(event, session, blogger, euan)
    for method, url, data in pages:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(blogger)
    for method, url, data in pages:
        assert getattr(client, method)(url, data).status_code == 403, url


# ---- The import from the event's page --------------------------------------------------------


def upload(client, event, name: str, content: bytes | None = None, **extra):
    data = content if content is not None else (PROGRAMMES / name).read_bytes()
    url = reverse("organisers:import", args=[event.slug])
    return client.post(url, {"file": SimpleUploadedFile(name, data), **extra})


def apply_preview(client, event, preview):
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', preview.text).group(1)
    url = reverse("organisers:import_apply", args=[event.slug])
    return client.post(url, {"fingerprint": fingerprint})


def test_the_import_previews_then_applies(as_organiser, event):
    preview = upload(as_organiser, event, "pretalx-democon.json")
    assert preview.status_code == 200
    assert "Nothing has changed yet" in preview.text and event.sessions.count() == 0
    new = int(re.search(r"New \((\d+)\)", preview.text).group(1))
    assert new > 0
    done = apply_preview(as_organiser, event, preview)
    assert done.status_code == 302
    assert event.sessions.count() == new
    # The same file again: all unchanged, nothing new.
    again = upload(as_organiser, event, "pretalx-democon.json")
    assert "New (0)" in again.text and f"Unchanged ({new})" in again.text


def test_a_bad_file_is_refused_with_where_and_why_and_nothing_changes(as_organiser, event):
    csv = b"id,title,start,end\n1,Talk,2026-11-24 09:00,2026-11-24 10:00\n2,Talk,soon,later\n"
    response = upload(as_organiser, event, "broken.csv", csv)
    assert response.status_code == 400
    assert "broken.csv: line 3" in response.text
    no_id = upload(as_organiser, event, "no-id.csv", b"title,start\nTalk,2026-11-24 09:00\n")
    assert "no id column" in no_id.text
    assert event.sessions.count() == 0


def test_the_apply_refuses_a_plan_that_changed_since_the_preview(as_organiser, event):
    preview = upload(as_organiser, event, "pretalx-democon.json")
    as_organiser.post(reverse("organisers:import", args=[event.slug]))  # nothing uploaded
    first = apply_preview(as_organiser, event, preview)
    assert first.status_code == 302
    count = event.sessions.count()
    # The preview's fingerprint is now stale: applying again changes nothing more.
    stale = apply_preview(as_organiser, event, preview)
    assert stale.status_code == 302 and event.sessions.count() == count


def test_pruning_from_the_page_never_removes_a_blogged_session(as_organiser, event, blogger):
    apply_preview(as_organiser, event, upload(as_organiser, event, "pretalx-democon.json"))
    # A revised file with one talk left: every other session is gone from it.
    schedule = json.loads((PROGRAMMES / "pretalx-democon.json").read_text())
    days = schedule["schedule"]["conference"]["days"]
    first_room = next(iter(days[0]["rooms"]))
    kept_talk = days[0]["rooms"][first_room][0]
    for day in days:
        day["rooms"] = {}
    days[0]["rooms"] = {first_room: [kept_talk]}
    in_file = event.sessions.get(external_id__contains=kept_talk["guid"][:8])
    blogged = event.sessions.exclude(pk=in_file.pk).order_by("pk").first()
    blogged.bloggers.add(blogger)
    post_entry(blogged, blogger, "Was here")
    revised = json.dumps(schedule).encode()
    preview = upload(as_organiser, event, "revised.json", revised, prune="on")
    assert preview.status_code == 200
    assert "but kept: they have entries (1)" in preview.text
    apply_preview(as_organiser, event, preview)
    assert set(event.sessions.all()) == {in_file, blogged}
