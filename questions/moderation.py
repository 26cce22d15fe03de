"""What happens to a reader's question: sent, then approved (an entry) or rejected.

The views and the API call these. Approval posts through the stream's one funnel
(entries.actions.post_question); nothing here broadcasts anything itself, and a question
that is not approved is never sent to readers.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from entries import actions
from entries.models import Entry
from liveblog.ratelimit import hit
from questions.models import Question
from sessions.models import Session


class QuestionRefused(Exception):
    """A question the rules refuse now (the session is not live, it was decided already)."""

    status = 409


NOT_LIVE = {
    Session.Status.UPCOMING: "This session has not started yet: questions open when it is live.",
    Session.Status.ENDED: "This session has ended: it takes no more questions.",
}


def address_hash(address: str) -> str:
    """Who sent it, as far as the rate limit needs: a keyed hash, never the address itself."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"question-address:{address}".encode(), hashlib.sha256).hexdigest()


def check_rate(address: str) -> None:
    """One limit per address across every session and door; RateLimited when over it."""
    hit(
        f"question:{address_hash(address)[:32]}",
        limit=settings.RATE_LIMIT_QUESTIONS,
        window=600,
        message="You have sent {limit} questions in ten minutes: this one was not sent. "
        "Try again in {retry_after} seconds.",
    )


def submit(*, session: Session, name: str, body: str, address: str) -> Question:
    """A reader sends a question to a live session; it waits for a blogger's approval.

    Raises QuestionRefused when the session is not live, ValidationError for a question
    that breaks the rules (Question.clean), RateLimited when the address sent too many.
    """
    if session.status != Session.Status.LIVE:
        raise QuestionRefused(NOT_LIVE.get(session.status, "This session takes no questions."))
    question = Question(session=session, name=name, body=body)
    question.full_clean(exclude=["session", "entry", "decided_by"])
    check_rate(address)
    question.address_hash = address_hash(address)
    question.save()
    return question


def _decided(question: Question) -> QuestionRefused:
    who = question.decided_by.get_username() if question.decided_by else "someone"
    verb = "approved" if question.status == Question.Status.APPROVED else "rejected"
    return QuestionRefused(f"This question was already {verb} by {who}.")


def _locked(question: Question) -> Question:
    """The question as stored, its row locked until the decision commits."""
    locked = (
        Question.objects.select_for_update(of=("self",))
        .select_related("decided_by")
        .get(pk=question.pk)
    )
    if locked.status != Question.Status.PENDING:
        raise _decided(locked)
    return locked


def approve(*, question: Question, by, answer: str = "") -> Entry:
    """Publish the question in the session's stream (with the answer, if given).

    Raises QuestionRefused if it was decided already, ValidationError for an answer that
    breaks the rules. Who may approve is the caller's to check (entries.permissions).
    """
    with transaction.atomic():
        locked = _locked(question)
        locked.answer = answer
        locked.full_clean(exclude=["session", "entry", "decided_by"])
        entry = actions.post_question(
            session=question.session,
            by=by,
            asker=locked.name,
            question=locked.body,
            answer=locked.answer,
        )
        locked.status = Question.Status.APPROVED
        locked.entry = entry
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "answer", "entry", "decided_by", "decided_at"])
    question.refresh_from_db()
    return entry


def reject(*, question: Question, by) -> None:
    """Turn the question down: it leaves the queue, is kept as rejected, and is never shown."""
    with transaction.atomic():
        locked = _locked(question)
        locked.status = Question.Status.REJECTED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
    question.refresh_from_db()
