"""Every write, by every kind of user: only assigned bloggers (and organisers) may write."""

import pytest
from django.urls import reverse

from entries.models import Entry
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


def create_url(session):
    return reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})


def status_url(session):
    return reverse("talks:status", kwargs={"event": session.event.slug, "slug": session.slug})


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
    response = client.post(
        create_url(session), {"kind": "text", "body": "From the room"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == (200 if ALLOWED[who] else 403)
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
    response = client.post(reverse("entries:delete", args=[entry.pk]), HTTP_HX_REQUEST="true")
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


def test_forbidden_htmx_calls_get_the_reason_as_text(client, session, outsider):
    client.force_login(outsider)
    response = client.post(
        create_url(session), {"kind": "text", "body": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "You are not assigned to blog this session."


def test_the_console_posts_and_shows_the_entry_at_once(client, session, blogger):
    client.force_login(blogger)
    page = client.get(session.get_console_url()).content.decode()
    assert 'id="compose"' in page and "htmx.min.js" in page
    response = client.post(
        create_url(session),
        {"kind": "text", "body": "Live from **Like Minds**"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    entry = session.entries.get()
    assert f'id="console-entry-{entry.pk}"' in html
    assert "<strong>Like Minds</strong>" in html
    assert 'hx-swap-oob="true"' in html  # a fresh, empty compose form
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
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "text", "body": ""}, "This field is required."),
        ({"kind": "text", "body": "   \n  "}, "This field is required."),
        ({"kind": "text", "body": "x" * 5001}, "Ensure this value has at most 5000 characters"),
        ({"kind": "quote", "body": "Who said it?"}, "A quote needs attribution"),
        ({"kind": "poem", "body": "Roses"}, "Select a valid choice."),
        (
            {
                "kind": "quote",
                "body": "x",
                "attribution_name": "A",
                "source_url": "javascript:alert(1)",
            },
            "Enter a valid URL.",
        ),
        ({"kind": "text", "body": "nul \x00 byte"}, "Null characters are not allowed."),
    ],
)
def test_bad_entries_get_a_form_error_and_store_nothing(client, session, blogger, data, message):
    client.force_login(blogger)
    response = client.post(create_url(session), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#compose"
    assert message in response.content.decode()
    assert not Entry.objects.exists()
    assert Session.objects.get(pk=session.pk).last_seq == 0


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
    assert client.get(reverse("entries:delete", args=[entry.pk])).status_code == 405
    entry.refresh_from_db()
    assert not entry.is_deleted


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
