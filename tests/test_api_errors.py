"""Every error under /api/ is JSON {"detail": ...}, with the status docs/api.md gives it.

Most errors are the API's own; some are answered by Django before or around it (a method
a path does not take, a Host header not allowed). Both kinds are walked here: every path
of /api/openapi.json with every method it does not take, and each row of the Errors table
in docs/api.md by a request of its kind.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from entries import actions
from entries.models import Entry
from questions.models import Question
from sessions.models import Session
from tests import openapi_walk
from tests.conftest import post_entry
from tests.test_api import bearer
from tests.test_body_limits import asgi_post

pytestmark = pytest.mark.django_db

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    data = response.json()
    assert isinstance(data["detail"], str) and data["detail"], data
    return data


def test_a_method_a_path_does_not_take_is_a_json_405_naming_those_it_does(
    client, session, blogger, entry
):
    schema = openapi_walk.load(client)
    paths: dict[str, set[str]] = {}
    for path, method, _ in openapi_walk.operations(schema):
        paths.setdefault(path, set()).add(method)
    actions.edit_entry(entry=entry, body="Edited, so it has a revision")
    revision = entry.revisions.get()
    ids = {
        "{session_id}": str(session.pk),
        "{entry_id}": str(entry.pk),
        "{revision_id}": str(revision.pk),
        "{question_id}": str(Question.objects.create(session=session, name="Ann", body="Why?").pk),
        "{slug}": session.event.slug,
    }
    before = list(Entry.objects.values_list("pk", "body", "seq", "deleted_at"))
    for path, allowed in paths.items():
        url = path
        for placeholder, value in ids.items():
            url = url.replace(placeholder, value)
        assert "{" not in url, f"teach this test a real value for {path}"
        for method in sorted(METHODS - allowed):
            response = client.generic(
                method, url, "{}", content_type="application/json", **bearer(blogger)
            )
            assert response.status_code == 405, (method, url, response.status_code)
            assert set(response["Allow"].split(", ")) == allowed, (method, url)
            assert response["Content-Type"].startswith("application/json"), (method, url)
            if method != "HEAD":
                detail = response.json()["detail"]
                assert method in detail and all(name in detail for name in allowed), detail
    assert list(Entry.objects.values_list("pk", "body", "seq", "deleted_at")) == before


def test_a_host_that_is_not_allowed_is_a_json_400_under_the_api(client):
    assert_json_error(client.get("/api/events", HTTP_HOST="evil.example"), 400)
    # Outside the API it stays the page it was.
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")


def test_each_kind_of_error_gets_the_status_docs_api_md_gives_it(
    session, other_session, blogger, outsider, euan
):
    """One request per row of the Errors table in docs/api.md, in its order."""
    client = Client(raise_request_exception=False)
    url = f"/api/sessions/{session.pk}/entries"
    mine = bearer(blogger)

    def post(data, headers=mine, **extra):
        raw = data if isinstance(data, str | bytes) else json.dumps(data)
        return client.post(url, raw, content_type="application/json", **headers, **extra)

    # 400: a body that is not JSON, or not valid Unicode; a malformed Idempotency-Key
    for raw in ["{not json", '{"body": "\\ud800"}', b'{"body": "\xff"}', '{"body": NaN}']:
        assert_json_error(post(raw), 400)
    assert_json_error(post({"body": "x"}, HTTP_IDEMPOTENCY_KEY="no spaces"), 400)
    assert_json_error(client.get("/api/events", HTTP_HOST="evil.example"), 400)
    # ... and a malformed Content-Length, refused around the app (test_body_limits.py)
    status, headers, body, _ = async_to_sync(asgi_post)(
        url, [b"{}"], {"Content-Type": "application/json"}, length=b"12x"
    )
    assert status == 400 and json.loads(body)["detail"]
    # 401: no credentials, or a wrong token
    assert_json_error(post({"body": "x"}, headers={}), 401)
    response = post({"body": "x"}, headers={"HTTP_AUTHORIZATION": "Bearer lb_wrong"})
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    # 403: not assigned; someone else's entry; the browser session without its CSRF token
    assert_json_error(post({"body": "x"}, headers=bearer(outsider)), 403)
    theirs = post_entry(other_session, outsider, "Theirs")
    response = client.patch(
        f"/api/entries/{theirs.pk}", "{}", content_type="application/json", **mine
    )
    assert_json_error(response, 403)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(blogger)
    response = browser.post(url, json.dumps({"body": "x"}), content_type="application/json")
    assert_json_error(response, 403)
    # 404: an unknown session or entry, whatever its id; a path no route matches
    for path in ["/api/sessions/999", "/api/sessions/99999999999999999999", "/api/nowhere"]:
        assert_json_error(client.get(path), 404)
    assert_json_error(client.delete("/api/entries/18446744073709551616", **mine), 404)
    # 405: a method the path does not take
    assert_json_error(client.put("/api/events"), 405)
    # 409: an Idempotency-Key reused for a different entry
    assert post({"body": "One"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    assert_json_error(post({"body": "Two"}, HTTP_IDEMPOTENCY_KEY="k-1"), 409)
    # 410: editing a deleted entry
    gone = post_entry(session, blogger, "Gone")
    actions.hide_entry(entry=gone)
    response = client.patch(
        f"/api/entries/{gone.pk}", '{"body": "Back"}', content_type="application/json", **mine
    )
    assert_json_error(response, 410)
    # 413: a request body over 64 KiB (test_body_limits.py)
    # 422: JSON that is not a valid request
    for data in [
        {"body": "x" * 5001},  # over 5,000 characters: the entry's rule, as in the console
        {"kind": "text"},  # no body
        {"body": 5},  # a wrong type
        {"body": ""},
        {"body": "a\x00b"},  # a NUL character
        {"kind": "poem", "body": "x"},
        {"kind": "quote", "body": "x"},  # a quote without attribution
        {"kind": "quote", "body": "x", "speaker": 2**64},
        {"kind": "quote", "body": "x", "attribution": "A", "source_url": "ftp://x.org/"},
        [1, 2],
    ]:
        assert_json_error(post(data), 422)
    for params in [{"after": -1}, {"limit": 0}, {"limit": 501}, {"after": 2**63}]:
        assert_json_error(client.get(url, params), 422)
    assert_json_error(client.get("/api/sessions", {"status": "paused"}), 422)
    assert_json_error(client.get("/api/sessions", {"event": "not a slug"}), 422)
    # 429 is tested in test_rate_limits.py. None of the above stored anything.
    bodies = Entry.objects.filter(session=session).values_list("body", flat=True)
    assert sorted(bodies) == ["Gone", "One"]
    assert Session.objects.get(pk=session.pk).last_seq == 3
