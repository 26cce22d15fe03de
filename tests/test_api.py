"""The JSON API: reading the stream, writing with tokens or the session, and every error as JSON."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken
from entries import actions
from entries.models import Entry
from sessions.models import Session
from tests.conftest import post_entry
from tests.test_body_limits import asgi_post

pytestmark = pytest.mark.django_db


def bearer(user, name="test") -> dict:
    _, secret = ApiToken.issue(user, name)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post_json(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def entries_url(session) -> str:
    return f"/api/sessions/{session.pk}/entries"


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/events",
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/entries",
        "/api/entries/{entry_id}",
    } <= set(schema["paths"])
    assert client.get("/api/docs").status_code == 200


def test_events_and_sessions_can_be_listed_and_filtered(client, session, other_session):
    events = client.get("/api/events").json()
    assert [e["slug"] for e in events] == ["smw-london"]
    assert events[0]["url"] == "http://testserver/events/smw-london/"
    live = client.get("/api/sessions", {"status": "live"}).json()
    assert [s["id"] for s in live] == [session.pk]
    assert live[0]["url"] == f"http://testserver{session.get_absolute_url()}"
    assert live[0]["speakers"][0]["name"] == "Euan Semple"
    by_slug = client.get("/api/sessions", {"event": "smw-london"}).json()
    by_id = client.get("/api/sessions", {"event": str(session.event_id)}).json()
    assert len(by_slug) == len(by_id) == 2
    assert client.get("/api/sessions", {"event": "nope"}).json() == []
    assert client.get("/api/sessions", {"status": "paused"}).status_code == 422
    one = client.get(f"/api/sessions/{session.pk}").json()
    assert one["title"] == session.title and one["last_seq"] == 0


def test_the_stream_returns_changes_after_a_cursor_with_tombstones(client, session, blogger):
    first = post_entry(session, blogger, "One")
    second = post_entry(session, blogger, "Two")
    post_entry(session, blogger, "Three")
    actions.hide_entry(entry=second)  # seq 4
    actions.edit_entry(entry=first, body="One, corrected")  # seq 5
    data = client.get(entries_url(session), {"after": 2}).json()
    assert [(e["body"], e["seq"], e["deleted"]) for e in data["entries"]] == [
        ("Three", 3, False),
        ("", 4, True),
        ("One, corrected", 5, False),
    ]
    assert data["entries"][1]["html"] == ""
    assert data["last_seq"] == 5 and data["has_more"] is False
    everything = client.get(entries_url(session)).json()
    assert len(everything["entries"]) == 3
    entry = everything["entries"][0]
    assert {
        "id",
        "seq",
        "kind",
        "body",
        "html",
        "author",
        "created_at",
        "updated_at",
        "deleted",
    } <= set(entry)
    assert entry["author"] == {"username": "ben", "name": "Ben Blogger"}
    for item in everything["entries"]:
        page = f"http://testserver/events/smw-london/{session.slug}/entries/{item['id']}/"
        assert item["url"] == page
        assert client.get(page).status_code == (410 if item["deleted"] else 200)


def test_the_stream_reads_two_queries_whatever_its_length(
    client, session, blogger, euan, django_assert_num_queries
):
    for i in range(30):
        post_entry(session, blogger, f"Quote {i}", kind="quote", attribution_speaker=euan)
    with django_assert_num_queries(2):  # the session, then the entries with their people
        data = client.get(entries_url(session), {"after": 0, "limit": 500}).json()
    assert len(data["entries"]) == 30
    assert {e["speaker"]["url"] for e in data["entries"]} == {
        "http://testserver/speakers/euan-semple/"
    }


def test_the_stream_pages_with_limit(client, session, blogger):
    for i in range(5):
        post_entry(session, blogger, f"Entry {i}")
    page = client.get(entries_url(session), {"after": 0, "limit": 2}).json()
    assert (
        [e["seq"] for e in page["entries"]] == [1, 2] and page["has_more"] and page["last_seq"] == 2
    )
    rest = client.get(entries_url(session), {"after": page["last_seq"], "limit": 10}).json()
    assert [e["seq"] for e in rest["entries"]] == [3, 4, 5] and not rest["has_more"]


@pytest.mark.parametrize(
    "params",
    [
        {"after": -1},
        {"after": "x"},
        {"after": 2**64},
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
    ],
)
def test_a_bad_cursor_or_limit_is_a_json_422(client, session, params):
    response = client.get(entries_url(session), params)
    assert response.status_code == 422
    assert response.json()["detail"] == "The request is not valid."


def test_unknown_ids_are_json_404s(client, blogger):
    for url in ["/api/sessions/999", "/api/sessions/999/entries"]:
        response = client.get(url)
        assert response.status_code == 404 and "detail" in response.json()
    response = client.patch(
        "/api/entries/999", "{}", content_type="application/json", **bearer(blogger)
    )
    assert response.status_code == 404


def test_an_assigned_blogger_posts_with_a_token(client, session, blogger, euan):
    response = post_json(
        client,
        entries_url(session),
        {"kind": "quote", "body": "Thingification", "speaker": euan.pk, "key_moment": True},
        **bearer(blogger),
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "quote" and data["speaker"]["name"] == "Euan Semple"
    assert (
        data["key_moment"] is True and data["seq"] == 1 and data["html"] == "<p>Thingification</p>"
    )
    entry = Entry.objects.get()
    assert entry.author == blogger and entry.attribution_speaker == euan


def test_quotes_of_other_writers_take_attribution_and_source(client, session, blogger):
    response = post_json(
        client,
        entries_url(session),
        {
            "kind": "quote",
            "body": "Customers expect rapid action.",
            "attribution": "Alan Patrick",
            "source_url": "https://broadstuff.com/p",
        },
        **bearer(blogger),
    )
    assert response.status_code == 201
    assert (
        response.json()["attribution"] == "Alan Patrick"
        and response.json()["source_url"] == "https://broadstuff.com/p"
    )


def test_extra_fields_such_as_author_session_or_seq_are_never_applied(
    client, session, other_session, blogger, organiser
):
    response = post_json(
        client,
        entries_url(session),
        {
            "body": "Mine",
            "author": organiser.pk,
            "session": other_session.pk,
            "seq": 999,
            "id": 5,
            "html": "<script>x</script>",
        },
        **bearer(blogger),
    )
    assert response.status_code == 201
    entry = Entry.objects.get()
    assert (entry.author, entry.session, entry.seq, entry.html) == (
        blogger,
        session,
        1,
        "<p>Mine</p>",
    )


def test_writes_need_authentication_and_a_valid_token(client, session, blogger):
    assert post_json(client, entries_url(session), {"body": "x"}).status_code == 401
    response = post_json(
        client, entries_url(session), {"body": "x"}, HTTP_AUTHORIZATION="Bearer lb_wrong"
    )
    assert response.status_code == 401 and response.json()["detail"].startswith(
        "Authentication required"
    )
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Entry.objects.exists()


def test_a_revoked_token_stops_working_at_once(client, session, blogger):
    token, secret = ApiToken.issue(blogger, "phone")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert post_json(client, entries_url(session), {"body": "Before"}, **headers).status_code == 201
    token.revoke()
    assert post_json(client, entries_url(session), {"body": "After"}, **headers).status_code == 401
    assert list(Entry.objects.values_list("body", flat=True)) == ["Before"]


def test_tokens_are_stored_hashed(blogger):
    token, secret = ApiToken.issue(blogger, "phone")
    assert secret not in {token.key_hash, token.hint} and len(token.key_hash) == 64
    assert ApiToken.authenticate(secret) == blogger


@pytest.mark.parametrize(("who", "code"), [("outsider", 403), ("blogger", 201), ("organiser", 201)])
def test_only_assigned_bloggers_and_organisers_may_post(client, session, request, who, code):
    user = request.getfixturevalue(who)
    response = post_json(client, entries_url(session), {"body": "Hello"}, **bearer(user))
    assert response.status_code == code
    if code == 403:
        assert response.json() == {"detail": "You are not assigned to blog this session."}


def test_the_browser_session_works_with_csrf(session, blogger):
    client = Client(enforce_csrf_checks=True)
    client.force_login(blogger)
    assert post_json(client, entries_url(session), {"body": "No token"}).status_code == 403
    client.get(session.get_console_url())  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = post_json(
        client, entries_url(session), {"body": "With token"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201
    assert list(Entry.objects.values_list("body", flat=True)) == ["With token"]


def test_editing_and_deleting_through_the_api(client, session, blogger):
    headers = bearer(blogger)
    entry_id = post_json(client, entries_url(session), {"body": "Typo heer"}, **headers).json()[
        "id"
    ]
    response = client.patch(
        f"/api/entries/{entry_id}",
        json.dumps({"body": "Typo here"}),
        content_type="application/json",
        **headers,
    )
    assert (
        response.status_code == 200
        and response.json()["body"] == "Typo here"
        and response.json()["seq"] == 2
    )
    response = client.patch(
        f"/api/entries/{entry_id}",
        json.dumps({"key_moment": True}),
        content_type="application/json",
        **headers,
    )
    assert response.json()["key_moment"] is True and response.json()["body"] == "Typo here"
    response = client.delete(f"/api/entries/{entry_id}", **headers)
    assert response.status_code == 200 and response.json()["deleted"] is True
    response = client.patch(
        f"/api/entries/{entry_id}",
        json.dumps({"body": "Back?"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 410


def test_another_bloggers_entry_cannot_be_changed(client, session, blogger, django_user_model):
    colleague = django_user_model.objects.create_user("cara")
    session.bloggers.add(colleague)
    entry = post_entry(session, blogger, "Ben's")
    response = client.delete(f"/api/entries/{entry.pk}", **bearer(colleague))
    assert (
        response.status_code == 403
        and response.json()["detail"] == "You can only change your own entries."
    )
    entry.refresh_from_db()
    assert not entry.is_deleted


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"body": ""}, 422, "Write something before posting."),
        ({"body": "   "}, 422, "Write something before posting."),
        ({"body": "x" * 5001}, 422, "An entry is at most 5,000 characters (this one is 5,001)."),
        ({"kind": "quote", "body": "Who?"}, 422, "A quote needs attribution"),
        ({"kind": "poem", "body": "x"}, 422, "The request is not valid."),
        ({"body": 12}, 422, "The request is not valid."),
        ({}, 422, "The request is not valid."),
        ({"body": "x", "speaker": 2**70}, 422, "The request is not valid."),
        (
            {"kind": "quote", "body": "x", "attribution": "A", "source_url": "javascript:alert(1)"},
            422,
            "Only http and https links are allowed (this one starts with javascript:).",
        ),
        # Strict types: no coercion of strings to booleans or ids.
        ({"body": "x", "key_moment": "yes"}, 422, "Input should be a valid boolean"),
        ({"body": "x", "key_moment": 1}, 422, "Input should be a valid boolean"),
        ({"kind": "quote", "body": "x", "speaker": "1"}, 422, "Input should be a valid integer"),
        ({"body": 12}, 422, "Input should be a valid string"),
    ],
)
def test_bad_entries_get_a_json_error_and_store_nothing(
    client, session, blogger, payload, code, message
):
    response = post_json(client, entries_url(session), payload, **bearer(blogger))
    assert response.status_code == code
    assert message in json.dumps(response.json())
    assert not Entry.objects.exists()
    assert Session.objects.get(pk=session.pk).last_seq == 0


def test_malformed_json_and_oversized_requests(client, session, blogger):
    headers = bearer(blogger)
    response = client.post(
        entries_url(session), "{not json", content_type="application/json", **headers
    )
    assert response.status_code in {400, 422} and "detail" in response.json()
    # The byte limit is kept around the ASGI app, which Django's test client skips.
    data = json.dumps({"body": "x" * 70_000}).encode()
    status, _, body, _ = async_to_sync(asgi_post)(
        entries_url(session),
        [data],
        {"Authorization": headers["HTTP_AUTHORIZATION"], "Content-Type": "application/json"},
        length=str(len(data)).encode(),
    )
    assert status == 413 and json.loads(body) == {"detail": "The request body is over 65536 bytes."}
    assert not Entry.objects.exists()


# Idempotent posting


def test_a_retry_with_the_same_key_returns_the_original_entry(client, session, blogger):
    headers = {**bearer(blogger), "HTTP_IDEMPOTENCY_KEY": "8f1c6a1e-retry"}
    first = post_json(client, entries_url(session), {"body": "Only once"}, **headers)
    again = post_json(client, entries_url(session), {"body": "Only once"}, **headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Entry.objects.count() == 1 and Session.objects.get(pk=session.pk).last_seq == 1


def test_the_same_key_with_a_different_body_is_a_409(client, session, blogger):
    headers = {**bearer(blogger), "HTTP_IDEMPOTENCY_KEY": "k-1"}
    assert post_json(client, entries_url(session), {"body": "First"}, **headers).status_code == 201
    response = post_json(client, entries_url(session), {"body": "Second"}, **headers)
    assert response.status_code == 409 and "Idempotency-Key" in response.json()["detail"]
    assert list(Entry.objects.values_list("body", flat=True)) == ["First"]


def test_a_malformed_idempotency_key_is_a_400(client, session, blogger):
    response = post_json(
        client,
        entries_url(session),
        {"body": "x"},
        **bearer(blogger),
        HTTP_IDEMPOTENCY_KEY="bad key!",
    )
    assert response.status_code == 400
    assert not Entry.objects.exists()


def test_the_console_honours_idempotency_keys_too(client, session, blogger):
    client.force_login(blogger)
    url = session.get_console_url() + "entries/"
    for attempt in range(3):
        response = client.post(
            url,
            {"kind": "text", "body": "Flaky wifi"},
            HTTP_X_LIVEBLOG_OUTBOX="1",
            HTTP_IDEMPOTENCY_KEY="outbox-1",
        )
        assert response.status_code == (201 if attempt == 0 else 200)
    assert Entry.objects.count() == 1
    response = client.post(
        url,
        {"kind": "text", "body": "Other"},
        HTTP_X_LIVEBLOG_OUTBOX="1",
        HTTP_IDEMPOTENCY_KEY="outbox-1",
    )
    assert response.status_code == 409


def test_keys_are_per_author(client, session, blogger, organiser):
    for user in (blogger, organiser):
        response = post_json(
            client,
            entries_url(session),
            {"body": "Same"},
            **bearer(user),
            HTTP_IDEMPOTENCY_KEY="shared",
        )
        assert response.status_code == 201
    assert Entry.objects.count() == 2


def test_create_api_token_prints_the_token_last(blogger, capsys):
    call_command("create_api_token", "ben")
    out = capsys.readouterr().out.strip().splitlines()
    assert ApiToken.authenticate(out[-1]) == blogger


def test_the_profile_page_creates_and_revokes_tokens(client, blogger):
    client.force_login(blogger)
    response = client.post("/accounts/profile/", {"name": "phone"})
    secret = response.context["new_secret"]
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=blogger)
    assert ApiToken.authenticate(secret) == blogger
    assert secret not in client.get("/accounts/profile/").content.decode()  # shown once
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert ApiToken.authenticate(secret) is None
    assert client.post("/accounts/profile/", {"name": ""}).status_code == 422


def test_nobody_can_revoke_someone_elses_token(client, blogger, outsider):
    token, secret = ApiToken.issue(blogger, "phone")
    client.force_login(outsider)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.authenticate(secret) == blogger


def test_the_openapi_schema_is_valid(client):
    from openapi_spec_validator import validate

    validate(client.get("/api/openapi.json").json())


def test_an_unrouted_api_path_answers_json_404(client):
    response = client.get("/api/entries/null")
    assert response.status_code == 404
    assert response.json()["detail"] == "No API endpoint at /api/entries/null."


@pytest.mark.parametrize("field", ["kind", "body", "key_moment"])
def test_an_explicit_null_is_refused_where_nothing_could_clear_it(client, session, blogger, field):
    # Found by the fuzzer: {"attribution": null} reached the model as None (a 500).
    entry = post_entry(session, blogger, "Unchanged")
    response = client.patch(
        f"/api/entries/{entry.pk}",
        json.dumps({field: None}),
        content_type="application/json",
        **bearer(blogger),
    )
    assert response.status_code == 422 and response.json()["errors"][0]["loc"][-1] == field
    entry.refresh_from_db()
    assert entry.body == "Unchanged" and entry.seq == 1


def test_null_clears_an_attribution_or_a_source_as_a_merge_patch_does(client, session, blogger):
    quote = post_entry(
        session,
        blogger,
        "Quoted",
        kind="quote",
        attribution_name="Alan Patrick",
        source_url="https://broadstuff.com/",
    )
    response = client.patch(
        f"/api/entries/{quote.pk}",
        json.dumps({"source_url": None}),
        content_type="application/json",
        **bearer(blogger),
    )
    assert response.status_code == 200 and response.json()["source_url"] == ""
    response = client.patch(
        f"/api/entries/{quote.pk}",
        json.dumps({"attribution": None}),
        content_type="application/json",
        **bearer(blogger),
    )
    # A quote with nobody to attribute it to is refused, not stored half-empty.
    assert response.status_code == 422 and "needs attribution" in response.json()["detail"]


def test_a_null_speaker_takes_the_speaker_off_a_quote(client, session, blogger, euan):
    quote = post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    response = client.patch(
        f"/api/entries/{quote.pk}",
        json.dumps({"speaker": None, "attribution": "Someone in the room"}),
        content_type="application/json",
        **bearer(blogger),
    )
    assert response.status_code == 200
    assert response.json()["speaker"] is None
    assert response.json()["attribution"] == "Someone in the room"
