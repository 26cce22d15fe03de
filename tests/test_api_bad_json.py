"""JSON the API cannot store is refused at the parser: a clear 400, and nothing changes.

A JSON string may spell a lone UTF-16 surrogate ("\\ud800"); Python decodes it to a str
that no database or encoder will take, so it used to reach the save and answer 500. Every
operation that takes a JSON body is found in /api/openapi.json, so a new write endpoint is
walked the day it is added; each free-text field, a key, and a nested value get one.
"""

from __future__ import annotations

import json

import pytest

from entries.models import Entry
from questions.models import Question
from sessions.models import Session
from tests import openapi_walk
from tests.conftest import post_entry
from tests.test_api import bearer

pytestmark = pytest.mark.django_db

SURROGATES = ["\ud800", "\udfff", "a high one alone \ud83d", "\ude00 a low one first"]


@pytest.fixture
def doors(client, session, blogger):
    """(METHOD, url, a body that the operation accepts) for every operation taking JSON."""
    schema = openapi_walk.load(client)
    mine = post_entry(session, blogger, "Mine to edit")
    asked = Question.objects.create(session=session, name="Ann", body="Why?")
    ids = {"session_id": session.pk, "entry_id": mine.pk, "question_id": asked.pk}
    found = []
    for path, method, operation in openapi_walk.operations(schema):
        body = openapi_walk.body_schema(schema, operation)
        if body is None:
            continue
        url = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                name = parameter["name"]
                assert name in ids, f"teach this test a real value for {name} ({method} {path})"
                url = url.replace("{" + name + "}", str(ids[name]))
        fields = openapi_walk.string_properties(schema, body)
        # Its required fields, or (when none is) its first free-text one.
        valid = dict.fromkeys(body.get("required") or fields[:1], "A valid entry")
        found.append((method, url, valid, fields))
    assert {(method, path) for method, path, *_ in found} >= {
        ("POST", f"/api/sessions/{session.pk}/entries"),
        ("PATCH", f"/api/entries/{mine.pk}"),
    }
    return found


def snapshot() -> tuple:
    entries = sorted(
        Entry.objects.values_list(
            "pk", "kind", "body", "html", "attribution_name", "source_url", "key_moment", "seq"
        )
    )
    questions = sorted(Question.objects.values_list("pk", "name", "body", "status", "answer"))
    return entries, sorted(Session.objects.values_list("pk", "last_seq")), questions


def send(client, method: str, url: str, raw: str | bytes, headers: dict):
    return client.generic(method, url, raw, content_type="application/json", **headers)


def bodies_with_a_lone_surrogate(valid: dict, fields: list[str]):
    for surrogate in SURROGATES:
        for field in fields:
            yield f"{field}={surrogate!r}", json.dumps({**valid, field: surrogate})
        yield f"key {surrogate!r}", json.dumps({**valid, surrogate: "x"})
        nested = {"extra": {"deep": ["fine", {surrogate: "x", "value": [surrogate]}]}}
        yield f"nested {surrogate!r}", json.dumps({**valid, **nested})
    # The same, written as raw UTF-8 bytes rather than as an escape.
    raw = json.dumps({**valid, fields[0]: "@@"}).encode().replace(b"@@", b"\xed\xa0\x80")
    yield "raw bytes of \\ud800", raw


# Doors only the event's organisers may open (the blogger is refused them).
ORGANISERS_ONLY = ("/pin", "/unpin", "/feature", "/unfeature")


def test_every_json_body_with_a_lone_surrogate_is_a_400_that_names_it(
    client, session, blogger, organiser, doors
):
    for method, url, valid, fields in doors:
        headers = bearer(organiser if url.endswith(ORGANISERS_ONLY) else blogger)
        assert fields, f"{method} {url} has no free-text field to try"
        before = snapshot()
        for label, raw in bodies_with_a_lone_surrogate(valid, fields):
            response = send(client, method, url, raw, headers)
            where = f"{method} {url} with {label}"
            assert response.status_code == 400, (where, response.status_code, response.content)
            detail = response.json()["detail"]
            assert "surrogate" in detail or "UTF-8" in detail, (where, detail)
            assert snapshot() == before, f"{where} changed what is stored"
        # The door is open to this blogger: the same body without the surrogate is taken.
        response = send(client, method, url, json.dumps(valid), headers)
        assert response.status_code in {200, 201, 202}, (method, url, response.content)


def test_a_surrogate_pair_is_one_character_and_is_kept(client, session, blogger):
    response = send(
        client,
        "POST",
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "Applause \U0001f44f"}),  # dumped as "\ud83d\udc4f"
        bearer(blogger),
    )
    assert response.status_code == 201
    assert Entry.objects.get().body == "Applause \U0001f44f"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"body": "unfinished', "not valid JSON"),
        ('{"body": "x"} trailing', "not valid JSON"),
        (b'{"body": "\xff\xfe"}', "not UTF-8"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ('{"body": "x", "speaker": 1' + "0" * 5000 + "}", "not valid JSON"),
        ('{"body": NaN}', "not valid JSON"),
    ],
)
def test_a_body_that_is_not_json_is_a_400_that_says_why(client, session, blogger, doors, raw, says):
    headers = bearer(blogger)
    for method, url, *_ in doors:
        before = snapshot()
        response = send(client, method, url, raw, headers)
        assert response.status_code == 400, (method, url, response.content)
        assert says in response.json()["detail"], (method, url, response.json())
        assert snapshot() == before
