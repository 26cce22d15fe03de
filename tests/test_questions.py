"""Readers' questions: sent to a live session, reaching readers only through approval.

Nothing a reader sends reaches other readers before a blogger approves it, door by door:
the session page, the entries API, the questions API, the websocket (what is broadcast,
and the catch-up), the Atom feeds, search and the archive's export.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from entries import stream
from entries.models import Entry
from questions import moderation
from questions.models import Question
from sessions.models import Session
from tests.conftest import post_entry
from tests.test_api import bearer
from tests.test_xss_corpus import CORPUS, assert_page_safe, assert_safe, batches

pytestmark = pytest.mark.django_db

SECRET = "Zanzibarquokka"  # one word, so search finds it
ASKED = f"What about {SECRET}"  # as the words show (a search page repeats its query)
FOUND = f"<mark>{SECRET}</mark>"  # as search shows a hit
ASKER = "Quentin Quokkasson"


def ask_api(client, session, name=ASKER, body=f"{ASKED}?", **extra):
    return client.post(
        f"/api/sessions/{session.pk}/questions",
        json.dumps({"name": name, "body": body}),
        content_type="application/json",
        **extra,
    )


def ask_url(session: Session) -> str:
    return reverse("questions:ask", kwargs={"event": session.event.slug, "slug": session.slug})


def queue_url(session: Session) -> str:
    return reverse("questions:queue", kwargs={"event": session.event.slug, "slug": session.slug})


def everything_readers_can_read(client: Client, session: Session, organiser) -> dict[str, str]:
    """Every door a reader (or the archive) reads the session through, as text."""
    event = session.event
    exporter = Client()
    exporter.force_login(organiser)
    return {
        "page": client.get(session.get_absolute_url()).content.decode(),
        "entries API": client.get(f"/api/sessions/{session.pk}/entries").content.decode(),
        "session feed": client.get(f"/feeds/events/{event.slug}/{session.slug}/").content.decode(),
        "event feed": client.get(f"/feeds/events/{event.slug}/").content.decode(),
        # A hit's snippet, marked (the page repeats the query, so the word alone proves nothing).
        "search page": client.get(f"/search/?q={SECRET}").content.decode().replace(FOUND, ASKED),
        "search API": client.get(f"/api/search?q={SECRET}").content.decode().replace(FOUND, ASKED),
        "catch-up": json.dumps(stream.catch_up(session.pk, 0)),
        **{
            f"export {kind}": exporter.get(
                reverse("archive:export", kwargs={"slug": event.slug, "format": kind})
            ).content.decode(errors="replace")
            for kind in ("json", "markdown")
        },
    }


def test_nothing_a_reader_sends_reaches_readers_before_approval(
    client, session, blogger, organiser, outsider, pushed
):
    post_entry(session, blogger, "Something for the feeds to hold")
    with pushed() as layer:
        assert ask_api(client, session).status_code == 202
        response = Client(enforce_csrf_checks=True).post(
            ask_url(session), {"name": "Second Asker", "body": f"And {SECRET} again?"}
        )
        assert response.status_code == 200
    assert layer.sent == []  # nothing on the websocket's group, nor any other
    assert Question.objects.filter(status="pending").count() == 2
    for door, text in everything_readers_can_read(client, session, organiser).items():
        assert ASKED not in text and "again?" not in text, door
        assert "Quokkasson" not in text, door
    # The queue itself: not for anonymous readers, nor for a blogger of another session.
    assert client.get(f"/api/sessions/{session.pk}/questions").status_code == 401
    assert (
        client.get(f"/api/sessions/{session.pk}/questions", **bearer(outsider)).status_code == 403
    )
    assert client.get(queue_url(session)).status_code == 302  # to the login page
    other = Client()
    other.force_login(outsider)
    assert other.get(queue_url(session), HTTP_HX_REQUEST="true").status_code == 403

    # Approved, it is an entry like any other: pushed, caught up on, fed, found, exported.
    question = Question.objects.get(name=ASKER)
    with pushed() as layer:
        response = client.post(
            f"/api/questions/{question.pk}/approve",
            json.dumps({"answer": "Ask **Euan**."}),
            content_type="application/json",
            **bearer(blogger),
        )
    assert response.status_code == 201
    entry = response.json()
    assert (entry["kind"], entry["attribution"], entry["answer"]) == (
        "question",
        ASKER,
        "Ask **Euan**.",
    )
    assert entry["author"]["username"] == "ben"
    (change,) = layer.changes()
    assert change["action"] == "created" and change["id"] == entry["id"]
    assert SECRET in change["html"] and "<strong>Euan</strong>" in change["html"]
    assert change["_group"] == f"session.{session.pk}"
    readable = everything_readers_can_read(client, session, organiser)
    for door, text in readable.items():
        assert ASKED in text, door
    # The other question, still waiting, is in none of them.
    for door, text in readable.items():
        assert "Second Asker" not in text and "again?" not in text, door


def test_a_rejected_question_is_gone_from_the_queue_and_never_shown(
    client, session, blogger, organiser, pushed
):
    ask_api(client, session)
    question = Question.objects.get()
    with pushed() as layer:
        response = client.post(f"/api/questions/{question.pk}/reject", **bearer(blogger))
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decided_by"] == "ben"
    assert layer.sent == []
    question.refresh_from_db()
    assert question.status == "rejected" and question.entry is None
    assert client.get(f"/api/sessions/{session.pk}/questions", **bearer(blogger)).json() == {
        "results": []
    }
    listed = client.get(f"/api/sessions/{session.pk}/questions?status=rejected", **bearer(blogger))
    assert [item["id"] for item in listed.json()["results"]] == [question.pk]
    for door, text in everything_readers_can_read(client, session, organiser).items():
        assert ASKED not in text, door


def test_a_question_is_decided_once(client, session, blogger, organiser):
    ask_api(client, session)
    question = Question.objects.get()
    url = f"/api/questions/{question.pk}"
    # No body at all: no answer.
    no_body = {"content_type": "application/json"}
    assert client.post(f"{url}/approve", **no_body, **bearer(blogger)).status_code == 201
    assert Entry.objects.get().answer == ""
    again = client.post(f"{url}/approve", **no_body, **bearer(organiser))
    assert again.status_code == 409
    assert again.json()["detail"] == "This question was already approved by ben."
    rejected = client.post(f"{url}/reject", **bearer(organiser))
    assert rejected.status_code == 409
    assert Entry.objects.filter(kind="question").count() == 1
    # The console's htmx door says the same, as text for its error box.
    console = Client()
    console.force_login(organiser)
    response = console.post(reverse("questions:reject", args=[question.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert response.content.decode() == "This question was already approved by ben."


@pytest.mark.parametrize("status", ["upcoming", "ended"])
def test_only_a_live_session_takes_questions(client, session, status):
    Session.objects.filter(pk=session.pk).update(status=status)
    session.refresh_from_db()
    response = ask_api(client, session)
    assert response.status_code == 409
    assert response.json()["detail"] == moderation.NOT_LIVE[status]
    page = client.post(ask_url(session), {"name": "Ann", "body": "Hello?"})
    assert page.status_code == 409
    assert moderation.NOT_LIVE[status] in page.content.decode()
    assert not Question.objects.exists()
    # And the page offers no form.
    assert 'id="ask"' not in client.get(session.get_absolute_url()).content.decode()


def test_the_rate_limit_per_address_says_what_it_is(client, session, settings):
    settings.RATE_LIMIT_QUESTIONS = 2
    assert ask_api(client, session).status_code == 202
    assert ask_api(client, session).status_code == 202
    refused = ask_api(client, session)
    assert refused.status_code == 429
    assert refused["Retry-After"].isdigit()
    assert refused.json()["detail"].startswith("You have sent 2 questions in ten minutes")
    page = client.post(ask_url(session), {"name": "Ann", "body": "Third?"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 429
    assert "You have sent 2 questions in ten minutes" in page.content.decode()
    # Another address is counted apart.
    assert ask_api(client, session, REMOTE_ADDR="192.0.2.9").status_code == 202
    assert Question.objects.count() == 3
    # Who sent it is kept only as a keyed hash, never the address.
    for question in Question.objects.all():
        assert len(question.address_hash) == 64
        assert "127.0.0.1" not in question.address_hash
    assert len({question.address_hash for question in Question.objects.all()}) == 2


@pytest.mark.parametrize(
    ("name", "body", "field", "says"),
    [
        ("", "Why?", "name", "Give a name"),
        ("   ", "Why?", "name", "Give a name"),
        ("Ann", "  \n ", "body", "Write your question"),
        ("A" * 81, "Why?", "name", "at most 80 characters"),
        ("Ann", "x" * 1001, "body", "at most 1,000 characters"),
        ("Ann\x00", "Why?", "name", "NUL"),
        ("Ann", "Why\x00?", "body", "NUL"),
    ],
)
def test_bad_questions_are_refused_with_a_message_at_every_door(
    client, session, name, body, field, says
):
    response = ask_api(client, session, name=name, body=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(e["loc"] == ["body", field] and says in e["msg"] for e in errors), errors
    page = client.post(ask_url(session), {"name": name, "body": body}, HTTP_HX_REQUEST="true")
    assert page.status_code == 422
    assert says in page.content.decode()
    assert not Question.objects.exists()


def test_a_lone_surrogate_is_refused_where_a_form_can_carry_one(session):
    with pytest.raises(Exception) as refusal:
        moderation.submit(session=session, name="Ann", body="\ud800", address="192.0.2.1")
    assert "surrogate" in str(refusal.value)
    assert not Question.objects.exists()


def test_an_answer_too_long_is_refused_and_the_question_waits(client, session, blogger, settings):
    ask_api(client, session)
    question = Question.objects.get()
    response = client.post(
        f"/api/questions/{question.pk}/approve",
        json.dumps({"answer": "x" * (settings.ENTRY_BODY_MAX_LENGTH + 1)}),
        content_type="application/json",
        **bearer(blogger),
    )
    assert response.status_code == 422
    question.refresh_from_db()
    assert question.status == "pending" and not Entry.objects.exists()


def test_the_page_form_works_without_a_csrf_cookie_and_the_page_sets_none(client, session):
    page = client.get(session.get_absolute_url())
    html = page.content.decode()
    assert 'id="ask"' in html and "csrfmiddlewaretoken" not in html
    assert not page.cookies  # the same page for every anonymous reader: cacheable
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(ask_url(session), {"name": "Ann", "body": "Why?"})
    assert response.status_code == 200
    assert "Sent — it appears if the blogger approves it." in response.content.decode()
    htmx = browser.post(ask_url(session), {"name": "Ann", "body": "Why?"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    assert htmx.content.decode().startswith('<details id="ask"')
    assert "Sent — it appears if the blogger approves it." in htmx.content.decode()


def test_the_console_queue_polls_for_new_questions_only(client, session, blogger):
    client.force_login(blogger)
    console = client.get(session.get_console_url()).content.decode()
    assert f'hx-get="{queue_url(session)}"' in console
    first = moderation.submit(session=session, name="Ann", body="First?", address="192.0.2.1")
    panel = client.get(queue_url(session), HTTP_HX_REQUEST="true").content.decode()
    assert "First?" in panel and f"?after={first.pk}" in panel
    second = moderation.submit(session=session, name="Bo", body="Second?", address="192.0.2.1")
    poll = client.get(f"{queue_url(session)}?after={first.pk}", HTTP_HX_REQUEST="true")
    text = poll.content.decode()
    assert "Second?" in text and "First?" not in text and f"?after={second.pk}" in text
    # Without JavaScript: a page of its own, whose forms approve and come back to it.
    page = client.get(queue_url(session)).content.decode()
    assert "First?" in page and "Second?" in page
    response = client.post(reverse("questions:approve", args=[first.pk]), {"answer": "Yes."})
    assert response.status_code == 302 and response["Location"] == queue_url(session)
    response = client.post(reverse("questions:reject", args=[second.pk]))
    assert response.status_code == 302
    assert not Question.objects.pending().exists()


def test_counts_by_session_for_the_dashboard(session, other_session, blogger):
    for body in ("a", "b", "c"):
        moderation.submit(session=session, name="Ann", body=body, address="192.0.2.1")
    first, second, _ = Question.objects.all()
    moderation.approve(question=first, by=blogger)
    moderation.reject(question=second, by=blogger)
    counts = Question.objects.counts_by_session([session.pk, other_session.pk])
    assert counts == {session.pk: {"total": 3, "pending": 1, "approved": 1, "rejected": 1}}


def test_the_console_cannot_compose_a_question_entry(client, session, blogger):
    client.force_login(blogger)
    html = client.get(session.get_console_url()).content.decode()
    assert 'value="question"' not in html


def test_question_names_bodies_and_answers_are_safe_wherever_they_show(
    client, settings, session, blogger
):
    """Each payload as a name, a question and an answer: in the queue (its page and its
    panel), approved into the stream (the page, the API, the push), and the API's list."""
    settings.ENTRIES_PER_PAGE = 1000
    staff = Client()
    staff.force_login(blogger)
    payloads = CORPUS[::2]
    for batch in batches(payloads, 60):
        for payload in batch:
            moderation.submit(
                session=session,
                name=payload.strip()[:80] or "x",
                body=payload.strip()[:1000] or "x",
                address="192.0.2.1",
            )
        assert_page_safe(staff, queue_url(session))
        listed = staff.get(f"/api/sessions/{session.pk}/questions")
        assert listed.status_code == 200
        for question, payload in zip(Question.objects.pending(), batch, strict=False):
            entry = moderation.approve(question=question, by=blogger, answer=payload)
            assert_safe(stream.entry_payload(entry, "created")["html"], "push")
    assert Entry.objects.filter(kind="question").count() == len(payloads)
    assert_page_safe(client, session.get_absolute_url())
    for item in client.get(f"/api/sessions/{session.pk}/entries?limit=500").json()["entries"]:
        assert_safe(item["html"] + item["answer_html"], f"API entry {item['id']}")
