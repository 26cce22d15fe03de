"""Every write, by every kind of user: only assigned bloggers (and organisers) may write."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import ApiToken
from entries.models import NOT_THIS_SESSIONS_SPEAKER, Entry
from sessions.models import Session, Speaker
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


def create_url(session):
    return reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})


def status_url(session):
    return reverse("entries:status", kwargs={"event": session.event.slug, "slug": session.slug})


# What the console's outbox (static/js/outbox.js) sends with every post.
OUTBOX = {"HTTP_X_LIVEBLOG_OUTBOX": "1"}


def login(client, user):
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def actors(blogger, outsider, organiser, django_user_model):
    reader = django_user_model.objects.create_user("rita", password="x")
    return {
        "anonymous": None,
        "reader": reader,
        "outsider": outsider,
        "blogger": blogger,
        "organiser": organiser,
    }


ALLOWED = {
    "anonymous": False,
    "reader": False,
    "outsider": False,
    "blogger": True,
    "organiser": True,
}


@pytest.mark.parametrize("who", list(ALLOWED))
def test_posting(client, session, actors, who):
    login(client, actors[who])
    response = client.post(create_url(session), {"kind": "text", "body": "From the room"}, **OUTBOX)
    assert response.status_code == (201 if ALLOWED[who] else 403)
    assert session.entries.count() == (1 if ALLOWED[who] else 0)


@pytest.mark.parametrize("who", list(ALLOWED))
def test_opening_the_console(client, session, actors, who):
    login(client, actors[who])
    response = client.get(session.get_console_url())
    if who == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == (200 if ALLOWED[who] else 403)


@pytest.mark.parametrize("who", list(ALLOWED))
def test_editing_deleting_and_marking_the_assigned_bloggers_entry(
    client, session, blogger, actors, who
):
    entry = post_entry(session, blogger, "Original")
    login(client, actors[who])
    code = 200 if ALLOWED[who] else 403
    assert (
        client.get(reverse("entries:edit", args=[entry.pk]), HTTP_HX_REQUEST="true").status_code
        == code
    )
    response = client.post(
        reverse("entries:edit", args=[entry.pk]),
        {"kind": "text", "body": "Changed"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == code
    response = client.post(
        reverse("entries:key_moment", args=[entry.pk]), {"key_moment": "on"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == code
    entry.refresh_from_db()
    assert (entry.body, entry.key_moment) == (
        ("Changed", True) if ALLOWED[who] else ("Original", False)
    )
    # Someone else's entry: hidden with a reason, which the audit log keeps.
    response = client.post(
        reverse("entries:delete", args=[entry.pk]), {"reason": "Off topic"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == code
    entry.refresh_from_db()
    assert entry.is_deleted is ALLOWED[who]


@pytest.mark.parametrize("who", list(ALLOWED))
def test_starting_and_ending_the_session(client, session, actors, who):
    session.status = Session.Status.UPCOMING
    session.save()
    login(client, actors[who])
    response = client.post(status_url(session), {"status": "live"}, HTTP_HX_REQUEST="true")
    assert response.status_code == (200 if ALLOWED[who] else 403)
    session.refresh_from_db()
    assert session.status == ("live" if ALLOWED[who] else "upcoming")


def test_a_blogger_cannot_change_another_bloggers_entry(
    client, session, blogger, django_user_model
):
    colleague = django_user_model.objects.create_user("cara", password="x")
    session.bloggers.add(colleague)
    entry = post_entry(session, blogger, "Ben's")
    client.force_login(colleague)
    response = client.post(
        reverse("entries:edit", args=[entry.pk]), {"kind": "text", "body": "Cara's now"}
    )
    assert response.status_code == 403
    assert "your own entries" in response.content.decode()
    assert client.post(reverse("entries:delete", args=[entry.pk])).status_code == 403
    entry.refresh_from_db()
    assert entry.body == "Ben's" and not entry.is_deleted


def test_a_blogger_unassigned_later_can_no_longer_edit(client, session, blogger):
    entry = post_entry(session, blogger, "Before")
    session.bloggers.remove(blogger)
    client.force_login(blogger)
    assert client.post(reverse("entries:delete", args=[entry.pk])).status_code == 403


def test_forbidden_outbox_posts_get_the_reason_as_text(client, session, outsider):
    client.force_login(outsider)
    response = client.post(create_url(session), {"kind": "text", "body": "x"}, **OUTBOX)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "You are not assigned to blog this session."


def test_the_console_posts_and_shows_the_entry_at_once(client, session, blogger):
    client.force_login(blogger)
    page = client.get(session.get_console_url()).content.decode()
    assert 'id="compose"' in page and "htmx.min.js" in page
    response = client.post(
        create_url(session), {"kind": "text", "body": "Live from **Like Minds**"}, **OUTBOX
    )
    assert response.status_code == 201
    html = response.content.decode()
    entry = session.entries.get()
    assert f'id="console-entry-{entry.pk}"' in html
    assert "<strong>Like Minds</strong>" in html
    assert entry.author == blogger and entry.seq == 1


def test_posting_without_javascript_redirects_back_to_the_console(client, session, blogger):
    client.force_login(blogger)
    response = client.post(create_url(session), {"kind": "text", "body": "No JS here"})
    assert response.status_code == 302 and response["Location"] == session.get_console_url()
    assert session.entries.get().body == "No JS here"


def test_a_quote_attributed_to_a_speaker(client, session, blogger, euan):
    client.force_login(blogger)
    response = client.post(
        create_url(session),
        {"kind": "quote", "body": "Thingification", "attribution_speaker": euan.pk},
        **OUTBOX,
    )
    assert response.status_code == 201
    entry = session.entries.get()
    assert entry.kind == "quote" and entry.attribution_speaker == euan


def test_editing_an_entry_inline(client, session, blogger):
    entry = post_entry(session, blogger, "Typo heer")
    client.force_login(blogger)
    form = client.get(
        reverse("entries:edit", args=[entry.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Typo heer" in form and 'hx-post="' in form
    response = client.post(
        reverse("entries:edit", args=[entry.pk]),
        {"kind": "text", "body": "Typo here"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.body == "Typo here" and entry.html == "<p>Typo here</p>"
    assert entry.seq == 2 and entry.created_seq == 1


# Bad input: a clear error, and nothing stored.


BAD_ENTRIES = [
    ({"kind": "text", "body": ""}, "Write something before posting."),
    ({"kind": "text", "body": "   \n  "}, "Write something before posting."),
    ({"kind": "text", "body": "x" * 5001}, "An entry is at most 5,000 characters"),
    ({"kind": "quote", "body": "Who said it?"}, "A quote needs attribution"),
    ({"kind": "poem", "body": "Roses"}, "Select a valid choice."),
    (
        {
            "kind": "quote",
            "body": "x",
            "attribution_name": "A",
            "source_url": "javascript:alert(1)",
        },
        "Only http and https links are allowed (this one starts with javascript:).",
    ),
    (
        {"kind": "quote", "body": "x", "attribution_name": "A", "source_url": "https://"},
        "Enter a whole web address, e.g. https://example.com/post.",
    ),
    ({"kind": "text", "body": "nul \x00 byte"}, "Null characters are not allowed."),
]


@pytest.mark.parametrize(("data", "message"), BAD_ENTRIES)
def test_bad_entries_from_the_outbox_get_the_reason_once_and_store_nothing(
    client, session, blogger, data, message
):
    client.force_login(blogger)
    response = client.post(create_url(session), data, **OUTBOX)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().count(message) == 1
    assert not Entry.objects.exists()
    assert Session.objects.get(pk=session.pk).last_seq == 0


@pytest.mark.parametrize(("data", "message"), BAD_ENTRIES)
def test_bad_entries_without_javascript_get_the_console_with_the_error(
    client, session, blogger, data, message
):
    client.force_login(blogger)
    response = client.post(create_url(session), data)
    assert response.status_code == 422
    assert response.content.decode().count(escape(message)) == 1
    assert 'id="compose"' in response.content.decode()
    assert not Entry.objects.exists()


def test_a_speaker_of_another_session_is_refused_plainly_at_every_door(client, session, blogger):
    stranger = Speaker.objects.create(name="Someone Else", slug="someone-else")
    client.force_login(blogger)
    data = {"kind": "quote", "body": "x", "attribution_speaker": stranger.pk}
    form = client.post(create_url(session), data, **OUTBOX)
    token = ApiToken.issue(blogger, "t")[1]
    api = Client().post(
        f"/api/sessions/{session.pk}/entries",
        {"kind": "quote", "body": "x", "speaker": stranger.pk},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert form.status_code == api.status_code == 422
    assert form.content.decode().startswith(NOT_THIS_SESSIONS_SPEAKER)
    assert api.json()["errors"] == [{"loc": ["body", "speaker"], "msg": NOT_THIS_SESSIONS_SPEAKER}]
    assert not Entry.objects.exists()


def test_a_quote_of_a_speaker_from_another_session_is_refused(client, session, blogger):
    from sessions.models import Speaker

    stranger = Speaker.objects.create(name="Someone Else", slug="someone-else")
    client.force_login(blogger)
    response = client.post(
        create_url(session), {"kind": "quote", "body": "x", "attribution_speaker": stranger.pk}
    )
    assert response.status_code == 422
    assert not Entry.objects.exists()


def test_posting_to_an_unknown_session_is_404(client, session, blogger):
    client.force_login(blogger)
    response = client.post(
        reverse("entries:create", kwargs={"event": "smw-london", "slug": "nope"}),
        {"kind": "text", "body": "x"},
    )
    assert response.status_code == 404
    assert client.post(reverse("entries:edit", args=[999]), {"body": "x"}).status_code == 404


def test_a_bad_status_or_key_moment_value_is_400(client, session, blogger, entry):
    client.force_login(blogger)
    assert client.post(status_url(session), {"status": "paused"}).status_code == 400
    assert (
        client.post(
            reverse("entries:key_moment", args=[entry.pk]), {"key_moment": "maybe"}
        ).status_code
        == 400
    )


def test_writes_need_post(client, session, blogger, entry):
    client.force_login(blogger)
    assert client.get(create_url(session)).status_code == 405
    assert client.put(reverse("entries:delete", args=[entry.pk])).status_code == 405
    entry.refresh_from_db()
    assert not entry.is_deleted


def test_without_javascript_delete_and_end_session_ask_first(client, session, blogger, entry):
    """GET asks (htmx asks with hx-confirm); only the POST from the question does it."""
    client.force_login(blogger)
    question = client.get(reverse("entries:delete", args=[entry.pk])).content.decode()
    assert "Delete this entry?" in question and "<strong>Like Minds</strong>" in question
    assert f'action="{reverse("entries:delete", args=[entry.pk])}"' in question
    question = client.get(status_url(session), {"status": "ended"}).content.decode()
    assert "End the session?" in question and 'name="status" value="ended"' in question
    entry.refresh_from_db()
    session.refresh_from_db()
    assert not entry.is_deleted and session.status == "live" and session.last_seq == 1
    console = client.get(session.get_console_url()).content.decode()
    # The controls are buttons in forms that work without JavaScript (GET: a page).
    for url in (
        reverse("entries:edit", args=[entry.pk]),
        reverse("entries:delete", args=[entry.pk]),
    ):
        assert f'<form method="get" action="{url}"' in console
    assert f'<form method="get" action="{status_url(session)}"' in console


def test_text_entries_drop_stray_attribution(session, blogger, euan):
    entry = post_entry(
        session,
        blogger,
        "Plain",
        attribution_speaker=euan,
        attribution_name="X",
        source_url="https://x.example",
    )
    assert (entry.attribution_speaker, entry.attribution_name, entry.source_url) == (None, "", "")


def test_a_source_url_that_is_not_http_is_refused_whichever_door(session, blogger):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        post_entry(
            session,
            blogger,
            "x",
            kind="quote",
            attribution_name="A",
            source_url="javascript:alert(1)",
        )
    assert not Entry.objects.exists()
