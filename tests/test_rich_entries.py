"""Citations, photos from the console, co-authors and revisions."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from entries import actions
from entries.models import Entry, EntryRevision, Photo
from tests.conftest import make_user, post_entry
from tests.photo_files import SECRETS, photo
from tests.test_api import bearer, post_json
from tests.test_photos_api import stored_files

pytestmark = pytest.mark.django_db

BROADSTUFF = {
    "kind": "citation",
    "body": "Social media is being thingified: turned into things to be bought and sold.",
    "attribution": "Alan Patrick",
    "publication": "Broadstuff",
    "source_url": "https://broadstuff.com/archives/thingification",
    "published_on": "2011-09-20",
}


# ---- Citations -------------------------------------------------------------------------------


def test_a_citation_is_posted_through_the_api_and_shown_as_a_card_with_its_link(
    client, session, blogger
):
    response = post_json(
        client, f"/api/sessions/{session.pk}/entries", BROADSTUFF, **bearer(blogger)
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["attribution"], body["publication"], body["published_on"]) == (
        "citation",
        "Alan Patrick",
        "Broadstuff",
        "2011-09-20",
    )
    page = client.get(session.get_absolute_url()).content.decode()
    assert '<figure class="citation entry__body" hx-disable>' in page
    assert '<cite class="citation__author">Alan Patrick</cite>' in page
    assert "Broadstuff" in page and '<time datetime="2011-09-20">20 Sep 2011</time>' in page
    assert (
        '<a class="citation__link" href="https://broadstuff.com/archives/thingification" '
        'rel="nofollow noopener noreferrer ugc">Read it on broadstuff.com' in page
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"attribution": ""}, "attribution", "needs its author"),
        ({"source_url": ""}, "source_url", "link to its source"),
        ({"source_url": "javascript:alert(1)"}, "source_url", "Only http and https"),
        ({"body": "  "}, "body", "quoted text"),
        ({"published_on": 20110920}, "published_on", "YYYY-MM-DD"),
        ({"published_on": "20 Sept"}, "published_on", "date"),
    ],
)
def test_a_citation_missing_what_it_needs_is_refused_saying_why(
    client, session, blogger, change, field, message
):
    response = post_json(
        client, f"/api/sessions/{session.pk}/entries", {**BROADSTUFF, **change}, **bearer(blogger)
    )

    assert response.status_code == 422
    assert message in json.dumps(response.json())
    assert Entry.objects.count() == 0


def test_the_server_never_fetches_a_citations_link(client, session, blogger, monkeypatch):
    import socket
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("the server tried to fetch a URL a user gave")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)

    response = post_json(
        client, f"/api/sessions/{session.pk}/entries", BROADSTUFF, **bearer(blogger)
    )

    assert response.status_code == 201
    assert client.get(session.get_absolute_url()).status_code == 200


def test_a_citation_is_posted_from_the_console(client, session, blogger):
    client.force_login(blogger)
    url = reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})
    form = {**BROADSTUFF, "attribution_name": BROADSTUFF["attribution"]}

    response = client.post(url, form)

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert (entry.kind, entry.attribution_name, entry.publication) == (
        "citation",
        "Alan Patrick",
        "Broadstuff",
    )


def test_text_entries_keep_no_citation_fields(session, blogger):
    entry = post_entry(
        session, blogger, "Plain", publication="Broadstuff", published_on="2011-09-20"
    )

    assert (entry.publication, entry.published_on) == ("", None)


# ---- Photos from the console -----------------------------------------------------------------


def photo_url(session) -> str:
    return reverse(
        "entries:create_photo", kwargs={"event": session.event.slug, "slug": session.slug}
    )


def test_the_console_offers_a_camera_picker_alt_and_caption(client, session, blogger):
    client.force_login(blogger)

    page = client.get(session.get_console_url()).content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" id="photo-image" name="image" accept="image/*"' in page
    assert 'name="alt" required' in page and 'name="caption"' in page
    assert "js/console-live.js" in page


def test_a_photo_posted_from_the_consoles_outbox_answers_with_its_console_entry(
    client, session, blogger
):
    client.force_login(blogger)

    response = client.post(
        photo_url(session),
        {
            "image": SimpleUploadedFile("IMG_0001.HEIC", photo("HEIF")),
            "alt": "A slide",
            "caption": "",
        },
        HTTP_X_LIVEBLOG_OUTBOX="1",
        HTTP_IDEMPOTENCY_KEY="3f1c-photo",
    )
    again = client.post(
        photo_url(session),
        {
            "image": SimpleUploadedFile("IMG_0001.HEIC", photo("HEIF")),
            "alt": "A slide",
            "caption": "",
        },
        HTTP_X_LIVEBLOG_OUTBOX="1",
        HTTP_IDEMPOTENCY_KEY="3f1c-photo",
    )

    assert (response.status_code, again.status_code) == (201, 200)
    html = response.content.decode()
    assert 'class="console-entry"' in html and 'alt="A slide"' in html
    assert Entry.objects.get().kind == "photo" and Photo.objects.count() == 1
    for path in stored_files():
        assert not [secret for secret in SECRETS if secret in path.read_bytes()]


def test_a_hostile_file_from_the_console_is_refused_in_plain_words(client, session, blogger):
    client.force_login(blogger)

    response = client.post(
        photo_url(session),
        {"image": SimpleUploadedFile("x.jpg", b"<svg onload=alert(1)>"), "alt": "x"},
        HTTP_X_LIVEBLOG_OUTBOX="1",
    )
    no_alt = client.post(
        photo_url(session), {"image": SimpleUploadedFile("x.jpg", photo("JPEG")), "alt": ""}
    )

    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert "not a photo we can take" in response.content.decode()
    assert no_alt.status_code == 422 and b"alt text" in no_alt.content
    assert Entry.objects.count() == Photo.objects.count() == 0 and stored_files() == []


def test_a_photo_posted_without_javascript_returns_to_the_console(client, session, blogger):
    client.force_login(blogger)

    response = client.post(
        photo_url(session),
        {"image": SimpleUploadedFile("s.png", photo("PNG")), "alt": "A slide", "key_moment": "on"},
    )

    assert response.status_code == 302 and response["Location"] == session.get_console_url()
    assert Entry.objects.get().key_moment


def test_a_photo_entry_is_edited_in_the_console_as_caption_and_alt(client, session, blogger):
    client.force_login(blogger)
    client.post(
        photo_url(session), {"image": SimpleUploadedFile("s.png", photo("PNG")), "alt": "A"}
    )
    entry = Entry.objects.get()

    form = client.get(reverse("entries:edit", args=[entry.pk]), HTTP_HX_REQUEST="true")
    edited = client.post(
        reverse("entries:edit", args=[entry.pk]),
        {"kind": "photo", "body": "Caption", "alt": "Better alt"},
        HTTP_HX_REQUEST="true",
    )

    assert 'name="kind" value="photo"' in form.content.decode()
    assert "Caption" in form.content.decode() and 'name="alt"' in form.content.decode()
    assert edited.status_code == 200
    entry.refresh_from_db()
    assert (entry.body, entry.alt, entry.kind) == ("Caption", "Better alt", "photo")


# ---- Co-authors --------------------------------------------------------------------------------


@pytest.fixture
def cara(session, django_user_model):
    cara = make_user(django_user_model, "cara", "Bloggers", first_name="Cara", last_name="Cole")
    session.bloggers.add(cara)
    return cara


def test_each_entry_shows_its_authors_byline(client, session, blogger, cara):
    post_entry(session, blogger, "Ben's")
    post_entry(session, cara, "Cara's")

    page = client.get(session.get_absolute_url()).content.decode()

    assert '<span class="visually-hidden">by </span>Ben Blogger' in page
    assert '<span class="visually-hidden">by </span>Cara Cole' in page


def test_the_console_follows_the_sessions_stream_with_who_is_looking(
    client, session, blogger, cara
):
    post_entry(session, cara, "Cara's")
    client.force_login(blogger)

    page = client.get(session.get_console_url()).content.decode()

    assert f'data-console-live="{session.pk}"' in page
    assert f'data-ws-path="/ws/sessions/{session.pk}/"' in page
    assert f'data-user="{blogger.pk}"' in page and "data-organiser" not in page
    assert f'data-author="{cara.pk}"' in page


def test_a_co_author_gets_the_console_view_only_of_their_own_entries(
    client, session, blogger, cara
):
    theirs = post_entry(session, cara, "Cara's")
    mine = post_entry(session, blogger, "Ben's")
    client.force_login(blogger)

    assert client.get(reverse("entries:console_entry", args=[mine.pk])).status_code == 200
    assert client.get(reverse("entries:console_entry", args=[theirs.pk])).status_code == 403
    refused = client.post(reverse("entries:edit", args=[theirs.pk]), {"kind": "text", "body": "x"})
    assert refused.status_code == 403
    theirs.refresh_from_db()
    assert theirs.body == "Cara's"


# ---- Revisions ---------------------------------------------------------------------------------


def test_every_edit_keeps_the_earlier_version_and_who_wrote_it(session, blogger, organiser):
    entry = post_entry(session, blogger, "First words")

    actions.edit_entry(entry=entry, body="Second words", by=blogger)
    actions.edit_entry(entry=entry, body="Third words", by=organiser)
    actions.set_key_moment(entry=entry, value=True)  # not an edit: no version kept

    versions = list(entry.revisions.order_by("replaced_at", "pk"))
    assert [(v.body, v.written_by) for v in versions] == [
        ("First words", blogger),
        ("Second words", blogger),
    ]
    assert versions[0].html == "<p>First words</p>"
    entry.refresh_from_db()
    assert entry.was_edited and entry.edited_by == organiser


def test_restoring_a_version_is_a_change_pushed_live_and_keeps_the_one_it_replaces(
    session,
    blogger,
    pushed,  # noqa: F811
):
    entry = post_entry(session, blogger, "What Euan said")
    actions.edit_entry(entry=entry, body="What Euan did not say", by=blogger)
    first = entry.revisions.get()

    with pushed() as layer:
        assert actions.restore_revision(revision=first, by=blogger)

    (change,) = layer.changes()
    assert change["action"] == "updated" and change["id"] == entry.pk
    assert "What Euan said" in change["html"] and "entry__edited" in change["html"]
    entry.refresh_from_db()
    assert entry.body == "What Euan said"
    assert EntryRevision.objects.filter(entry=entry, body="What Euan did not say").exists()
    assert not actions.restore_revision(revision=first, by=blogger)  # already so


def test_the_history_is_shown_to_bloggers_and_restored_by_its_editors(
    client, session, blogger, cara
):
    entry = post_entry(session, blogger, "Before")
    actions.edit_entry(entry=entry, body="After", by=blogger)
    revision = entry.revisions.get()
    client.force_login(cara)

    page = client.get(reverse("entries:history", args=[entry.pk])).content.decode()
    refused = client.post(reverse("entries:restore_revision", args=[entry.pk, revision.pk]))

    assert "<p>Before</p>" in page and "Restore this version" not in page
    assert refused.status_code == 403
    client.force_login(blogger)
    page = client.get(reverse("entries:history", args=[entry.pk])).content.decode()
    assert "Restore this version" in page
    restored = client.post(reverse("entries:restore_revision", args=[entry.pk, revision.pk]))
    assert restored.status_code == 302
    entry.refresh_from_db()
    assert entry.body == "Before"


def test_the_api_lists_an_entrys_versions_and_restores_one(client, session, blogger):
    entry = post_entry(session, blogger, "Before")
    actions.edit_entry(entry=entry, body="After", by=blogger)
    headers = bearer(blogger)

    listed = client.get(f"/api/entries/{entry.pk}/revisions", **headers).json()
    restored = client.post(
        f"/api/entries/{entry.pk}/revisions/{listed[0]['id']}/restore", **headers
    )
    other = client.post(f"/api/entries/{entry.pk}/revisions/999999/restore", **headers)

    assert [version["body"] for version in listed] == ["Before"]
    assert listed[0]["written_by"]["username"] == blogger.username
    assert restored.status_code == 200 and restored.json()["body"] == "Before"
    assert restored.json()["edited"] is True
    assert other.status_code == 404


def test_a_hidden_entrys_version_is_not_restored(client, session, blogger):
    entry = post_entry(session, blogger, "Before")
    actions.edit_entry(entry=entry, body="After", by=blogger)
    actions.hide_entry(entry=entry)

    response = client.post(
        f"/api/entries/{entry.pk}/revisions/{entry.revisions.get().pk}/restore", **bearer(blogger)
    )

    assert response.status_code == 410
