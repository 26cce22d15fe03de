"""The API fuzzed against its own OpenAPI schema with schemathesis: never a server error,
and afterwards the database holds exactly what the accepted requests made.

Schemathesis generates requests that fit the schema and requests that do not (wrong types,
missing fields, integers past 2^63, strings where objects belong), for every operation.
They go through Django's whole WSGI stack in this process, on the test database. Path ids
often point at real sessions and entries, in the blogger's session or the outsider's; the
Bearer token is the blogger's, the outsider's, or missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from accounts.models import ApiToken
from entries import actions
from entries.markdown import render_markdown
from entries.models import Entry
from questions.models import Question
from sessions.models import Session
from tests.conftest import post_entry

EXAMPLES = 30  # per operation and generation mode; keeps the whole file near 20 s
OPERATIONS = [
    ("/events", "GET"),
    ("/sessions", "GET"),
    ("/sessions/{session_id}", "GET"),
    ("/sessions/{session_id}/entries", "GET"),
    ("/sessions/{session_id}/entries", "POST"),
    ("/entries/{entry_id}", "PATCH"),
    ("/entries/{entry_id}", "DELETE"),
    ("/entries/{entry_id}/hide", "POST"),
    ("/entries/{entry_id}/restore", "POST"),
    ("/entries/{entry_id}/pin", "POST"),
    ("/entries/{entry_id}/unpin", "POST"),
    ("/entries/{entry_id}/feature", "POST"),
    ("/entries/{entry_id}/unfeature", "POST"),
    ("/events/{slug}/audit", "GET"),
    ("/sessions/{session_id}/photos", "POST"),
    ("/entries/{entry_id}/revisions", "GET"),
    ("/entries/{entry_id}/revisions/{revision_id}/restore", "POST"),
    ("/search", "GET"),
    ("/sessions/{session_id}/questions", "POST"),
    ("/sessions/{session_id}/questions", "GET"),
    ("/questions/{question_id}/approve", "POST"),
    ("/questions/{question_id}/reject", "POST"),
]


@pytest.fixture
def app(settings) -> Iterator[WSGIHandler]:
    """Django as a WSGI server would run it, inside this test's transaction.

    A real server closes the database connection around each request; here that would end
    the test's transaction, so the test client's trick is borrowed: those hooks are off.
    """
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def entry_state(entry: Entry) -> tuple:
    return (entry.session_id, entry.author_id, entry.kind, entry.body, entry.key_moment,
            entry.is_deleted, entry.seq)  # fmt: skip


# /events takes no input at all, so nothing can be made that does not fit its schema.
CASES = [
    (path, method, mode)
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if (path, mode) != ("/events", GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_no_request_makes_a_server_error_or_an_unasked_change(
    app, session, other_session, blogger, outsider, path, method, mode
):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operation = schema[f"/api{path}"][method]
    mine = post_entry(session, blogger, "Mine")
    theirs = post_entry(other_session, outsider, "Theirs")
    deleted = post_entry(session, blogger, "Gone")
    actions.hide_entry(entry=deleted)
    actions.edit_entry(entry=mine, body="Mine, edited")  # an earlier version to restore
    asked = Question.objects.create(session=session, name="Ann", body="Why?")
    asked_there = Question.objects.create(session=other_session, name="Bo", body="How?")
    tokens = {
        "blogger": ApiToken.issue(blogger, "fuzz")[1],
        "outsider": ApiToken.issue(outsider, "fuzz")[1],
    }
    authors = {"blogger": blogger.pk, "outsider": outsider.pk}
    before = {entry.pk: entry_state(entry) for entry in Entry.objects.all()}
    # What each accepted write says the entry now is; compared with the database at the end.
    accepted: dict[int, dict] = {}
    server_errors: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        who=st.sampled_from(["blogger", "outsider", None]),
        real_id=st.sampled_from(
            [None, session.pk, other_session.pk, mine.pk, theirs.pk, deleted.pk]
            + [asked.pk, asked_there.pk]
        ),
    )
    def run(case, who, real_id) -> None:
        if real_id is not None and isinstance(case.path_parameters, dict):
            for name in case.path_parameters:
                case.path_parameters[name] = real_id
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as failure:  # noqa: BLE001  (report every server error at the end)
            server_errors.append(f"{case.method} {case.formatted_path}: {failure}")
            return
        assert response.status_code < 500
        content_type = response.headers.get("content-type", [""])[0]
        if response.status_code >= 400:
            assert content_type == "application/json; charset=utf-8", response.text[:200]
            assert "detail" in response.json(), response.text
        if path.endswith("/reject") or response.status_code == 202:
            return  # a question's answer, not an entry's (checked below)
        if method in {"POST", "PATCH", "DELETE"} and response.status_code in {200, 201}:
            data = response.json()
            accepted[data["id"]] = {**data, "author_id": authors[who]}

    run()
    assert server_errors == []
    # Only what accepted writes made: no entry appeared or changed otherwise.
    after = {entry.pk: entry for entry in Entry.objects.all()}
    assert set(after) == set(before) | set(accepted)
    for pk, entry in after.items():
        if pk not in accepted:
            assert entry_state(entry) == before[pk]
            continue
        said = accepted[pk]
        # Written by its author, in a session the author blogs: never moved, never re-owned.
        assert entry.author_id == said["author_id"]
        assert (
            entry.session_id
            == {blogger.pk: session.pk, outsider.pk: other_session.pk}[entry.author_id]
        )
        assert (entry.kind, entry.key_moment, entry.is_deleted) == (
            said["kind"],
            said["key_moment"],
            said["deleted"],
        )
        if not entry.is_deleted:
            assert entry.body == said["body"] and entry.html == render_markdown(entry.body)
            assert "\x00" not in entry.body
            assert entry.body.strip() or entry.kind == "photo"  # a caption is optional
    for question in Question.objects.all():
        assert "\x00" not in question.name + question.body + question.answer
        assert question.name.strip() == question.name and question.name
        assert question.body.strip() == question.body and question.body
        # Approved exactly when it became an entry.
        assert (question.status == "approved") == (question.entry_id is not None)
    last_seq = Session.objects.get(pk=session.pk).last_seq
    assert last_seq >= max(
        [entry.seq for entry in after.values() if entry.session_id == session.pk]
    )


def test_the_schema_itself_is_valid_openapi(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    assert {
        f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())
    } == {f"{method} /api{path}" for path, method in OPERATIONS}


def test_extra_fields_are_never_applied_through_the_api(
    client, session, other_session, blogger, outsider
):
    _, secret = ApiToken.issue(blogger, "fuzz")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    sneaky = {
        "body": "Plain",
        "author": outsider.pk,
        "author_id": outsider.pk,
        "session": other_session.pk,
        "session_id": other_session.pk,
        "seq": 2**62,
        "created_seq": 7,
        "html": "<script>alert(1)</script>",
        "deleted": True,
        "id": 999,
        "idempotency_key": "stolen",
    }
    response = client.post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps(sneaky),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201
    entry = Entry.objects.get()
    assert (entry.author, entry.session, entry.seq, entry.html, entry.is_deleted) == (
        blogger,
        session,
        1,
        "<p>Plain</p>",
        False,
    )
    assert entry.pk != 999 and entry.idempotency_key == ""
    response = client.patch(
        f"/api/entries/{entry.pk}",
        json.dumps({**sneaky, "body": "Edited"}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert (entry.author, entry.session, entry.seq, entry.body, entry.created_seq) == (
        blogger,
        session,
        2,
        "Edited",
        1,
    )
