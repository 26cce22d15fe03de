"""Readers' questions in the JSON API (mounted by liveblog/api.py): anyone sends one to a
live session; the session's bloggers and its event's organisers list, approve and reject."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from accounts.api import WRITE_AUTH
from entries.api import EntryOut, _Invalid, _invalid
from entries.models import Entry
from entries.permissions import NOT_ASSIGNED, require_blogger
from liveblog.jsonbody import BadBody, StrictJSONParser
from liveblog.ratelimit import client_address
from questions import moderation
from questions.models import Question
from sessions.models import Session

router = Router()


class QuestionIn(Schema):
    model_config = ConfigDict(strict=True)

    name: str = Field(description="The name the question is signed with (required).")
    body: str = Field(description="The question or comment: Markdown, rendered if approved.")


class QuestionSent(Schema):
    id: int


class QuestionOut(Schema):
    id: int
    session: int = Field(validation_alias="session_id")
    name: str
    body: str
    status: Question.Status
    created_at: dt.datetime
    answer: str
    entry: int | None = Field(None, validation_alias="entry_id")
    decided_by: str | None = Field(None, description="The username of who decided.")
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_decided_by(question: Question) -> str | None:
        return question.decided_by.get_username() if question.decided_by else None


class QuestionList(Schema):
    results: list[QuestionOut]


class QuestionFilter(Schema):
    status: Literal["pending", "approved", "rejected", "all"] = "pending"


class AnswerIn(Schema):
    model_config = ConfigDict(strict=True)

    answer: str = Field("", description="The blogger's answer, shown below the question.")


@router.post(
    "/sessions/{int:session_id}/questions",
    response={202: QuestionSent},
    summary="Send a question to a live session",
)
def send_question(request: HttpRequest, session_id: int, payload: QuestionIn):
    """No account needed. It waits for the session's bloggers: readers see it only once
    approved. Rate-limited per address (429 with Retry-After)."""
    session = get_object_or_404(Session, pk=session_id)
    try:
        question = moderation.submit(
            session=session,
            name=payload.name,
            body=payload.body,
            address=client_address(request),
        )
    except ValidationError as error:
        raise _invalid(error) from None
    except moderation.QuestionRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return Status(202, {"id": question.pk})


@router.get(
    "/sessions/{int:session_id}/questions",
    response=QuestionList,
    auth=WRITE_AUTH,
    summary="A session's questions (its bloggers and organisers)",
)
def list_questions(request: HttpRequest, session_id: int, filters: Query[QuestionFilter]):
    """The questions sent to the session, oldest first; `status` filters (default pending)."""
    session = get_object_or_404(Session.objects.select_related("event"), pk=session_id)
    if not session.can_blog(request.auth):
        raise PermissionDenied(NOT_ASSIGNED)
    questions = session.questions.select_related("decided_by")
    if filters.status != "all":
        questions = questions.filter(status=filters.status)
    return {"results": list(questions)}


def _question_for_moderator(request: HttpRequest, question_id: int) -> Question:
    question = get_object_or_404(Question.objects.select_related("session__event"), pk=question_id)
    require_blogger(request.auth, question.session)
    return question


def _answer(request: HttpRequest) -> str:
    """The optional body's answer: no body at all is no answer (ninja would ask for one)."""
    if not request.body.strip():
        return ""
    try:
        data = StrictJSONParser().parse_body(request)
    except BadBody as error:
        raise HttpError(400, str(error)) from None
    try:
        return AnswerIn.model_validate(data).answer
    except PydanticValidationError as error:
        raise _Invalid(
            [
                {"loc": ["body", *map(str, item["loc"])], "msg": item["msg"]}
                for item in error.errors()
            ]
        ) from None


@router.post(
    "/questions/{int:question_id}/approve",
    response={201: EntryOut},
    auth=WRITE_AUTH,
    summary="Approve a question: it becomes an entry",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": AnswerIn.model_json_schema()}},
        }
    },
)
def approve_question(request: HttpRequest, question_id: int):
    """Publish it in the session's stream, with the answer if given (an optional JSON body
    `{"answer": "..."}`); answers with the entry. A question decided already: 409."""
    question = _question_for_moderator(request, question_id)
    answer = _answer(request)
    try:
        entry = moderation.approve(question=question, by=request.auth, answer=answer)
    except ValidationError as error:
        raise _invalid(error) from None
    except moderation.QuestionRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return Status(201, Entry.objects.for_display().get(pk=entry.pk))


@router.post(
    "/questions/{int:question_id}/reject",
    response=QuestionOut,
    auth=WRITE_AUTH,
    summary="Reject a question",
)
def reject_question(request: HttpRequest, question_id: int):
    """It leaves the queue and is never shown; kept as rejected. Decided already: 409."""
    question = _question_for_moderator(request, question_id)
    try:
        moderation.reject(question=question, by=request.auth)
    except moderation.QuestionRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return Question.objects.select_related("decided_by").get(pk=question.pk)
