"""The entry stream and its writes, for the JSON API (mounted by liveblog/api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from accounts.api import WRITE_AUTH
from entries import actions
from entries.models import NOT_THIS_SESSIONS_SPEAKER, Entry
from entries.permissions import check_post_rate, get_entry_for_editor, require_blogger
from sessions.models import Session, Speaker

router = Router()

MAX_SEQ = 2**63 - 1


class AuthorOut(Schema):
    username: str
    name: str

    @staticmethod
    def resolve_name(user) -> str:
        return user.get_full_name() or user.get_username()


class SpeakerRef(Schema):
    id: int
    name: str
    url: str

    @staticmethod
    def resolve_url(speaker, context) -> str:
        return context["request"].build_absolute_uri(speaker.get_absolute_url())


class EntryOut(Schema):
    id: int
    session: int = Field(validation_alias="session_id")
    seq: int = Field(description="The number of the entry's latest change in its session's stream.")
    created_seq: int = Field(description="The number of the change that created it.")
    kind: Entry.Kind
    body: str = Field(description="Markdown; empty once deleted.")
    html: str = Field(description="The body rendered to sanitised HTML; empty once deleted.")
    author: AuthorOut
    speaker: SpeakerRef | None = Field(None, validation_alias="attribution_speaker")
    attribution: str
    source_url: str
    key_moment: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted: bool = Field(validation_alias="is_deleted")
    url: str

    @staticmethod
    def resolve_body(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.body

    @staticmethod
    def resolve_html(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.html

    @staticmethod
    def resolve_url(entry: Entry, context) -> str:
        return context["request"].build_absolute_uri(entry.get_absolute_url())


class EntryList(Schema):
    entries: list[EntryOut]
    last_seq: int = Field(
        description="Pass as `after` next time: every change up to it is covered."
    )
    has_more: bool


class StreamQuery(Schema):
    after: int = Field(
        0, ge=0, le=MAX_SEQ, description="Return changes after this sequence number."
    )
    limit: int = Field(100, ge=1, le=500)


class EntryIn(Schema):
    # Strict: "yes" is not true and "1" is not an id; a wrong type is a 422 that says so.
    model_config = ConfigDict(strict=True)

    kind: Literal["text", "quote"] = "text"
    body: str
    speaker: int | None = Field(
        None, ge=1, le=MAX_SEQ, description="A speaker of the session, for quotes."
    )
    attribution: str = Field(
        "", description="Who said or wrote it, when not a speaker of the session."
    )
    source_url: str = Field("", description="Where a quote comes from (http or https).")
    key_moment: bool = False


class EntryPatch(Schema):
    model_config = ConfigDict(strict=True)

    kind: Literal["text", "quote"] | None = None
    body: str | None = None
    speaker: int | None = Field(None, ge=1, le=MAX_SEQ)
    attribution: str | None = None
    source_url: str | None = None
    key_moment: bool | None = None


# API names for the entry's fields, both ways.
API_NAMES = {
    "attribution_speaker": "speaker",
    "attribution_name": "attribution",
    NON_FIELD_ERRORS: "entry",
}


def _fields(payload: dict) -> dict:
    """The API's names to the entry's fields; a speaker id becomes the speaker (or None)."""
    fields = {}
    for name, value in payload.items():
        if value is None and name != "speaker":
            # A PATCH that sends null for a field only the speaker may clear.
            raise _Invalid([{"loc": ["body", name], "msg": f"{name} cannot be null."}])
        if name == "speaker":
            fields["attribution_speaker"] = (
                Speaker.objects.filter(pk=value).first() if value is not None else None
            )
            if value is not None and fields["attribution_speaker"] is None:
                raise _Invalid([{"loc": ["body", "speaker"], "msg": NOT_THIS_SESSIONS_SPEAKER}])
        elif name == "attribution":
            fields["attribution_name"] = value
        else:
            fields[name] = value
    return fields


class _Invalid(HttpError):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__(422, "; ".join(error["msg"] for error in errors))
        self.errors = errors


def _invalid(error: ValidationError) -> _Invalid:
    return _Invalid(
        [
            {"loc": ["body", API_NAMES.get(field, field)], "msg": message}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    )


def _idempotency_key(request: HttpRequest) -> str | None:
    try:
        return actions.parse_idempotency_key(request.headers.get("Idempotency-Key"))
    except ValueError as error:
        raise HttpError(400, str(error)) from None


@router.get("/sessions/{int:session_id}/entries", response=EntryList, summary="A session's stream")
def stream(request: HttpRequest, session_id: int, query: Query[StreamQuery]):
    """The entries changed after `after`, in sequence order; deleted ones as tombstones."""
    session = get_object_or_404(Session.objects.select_related("event"), pk=session_id)
    last_seq = session.last_seq  # read first: every change up to it has committed
    changed = list(
        session.entries.filter(seq__gt=query.after)
        .select_related("author", "attribution_speaker")
        .order_by("seq")[: query.limit + 1]
    )
    for entry in changed:
        entry.session = session  # one session for all: its URLs are worked out once
    has_more = len(changed) > query.limit
    changed = changed[: query.limit]
    # The cursor covers what was returned, or (at the end) everything committed so far.
    cursor = changed[-1].seq if has_more else max([last_seq, *(entry.seq for entry in changed)])
    return {"entries": changed, "last_seq": cursor, "has_more": has_more}


@router.post(
    "/sessions/{int:session_id}/entries",
    response={201: EntryOut, 200: EntryOut},
    auth=WRITE_AUTH,
    summary="Post an entry",
)
def create_entry(request: HttpRequest, session_id: int, payload: EntryIn):
    """Post as an assigned blogger. With an Idempotency-Key, a retry returns the original (200)."""
    session = get_object_or_404(Session.objects.select_related("event"), pk=session_id)
    require_blogger(request.auth, session)
    key = _idempotency_key(request)
    fields = _fields(payload.dict())
    check_post_rate(request.auth)
    try:
        entry = actions.post_entry(
            session=session, author=request.auth, idempotency_key=key, **fields
        )
    except ValidationError as error:
        raise _invalid(error) from None
    except actions.StreamRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return Status(200 if entry.replayed else 201, entry)


@router.patch(
    "/entries/{int:entry_id}", response=EntryOut, auth=WRITE_AUTH, summary="Edit an entry"
)
def edit_entry(request: HttpRequest, entry_id: int, payload: EntryPatch):
    """Change any of the fields sent; the others stay. Nothing sent, nothing changes."""
    entry = get_entry_for_editor(request.auth, entry_id)
    try:
        actions.edit_entry(entry=entry, **_fields(payload.dict(exclude_unset=True)))
    except ValidationError as error:
        raise _invalid(error) from None
    except actions.StreamRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return entry


@router.delete(
    "/entries/{int:entry_id}", response=EntryOut, auth=WRITE_AUTH, summary="Delete an entry"
)
def delete_entry(request: HttpRequest, entry_id: int):
    """Hide: readers see it disappear; the stream keeps a tombstone until it is restored."""
    entry = get_entry_for_editor(request.auth, entry_id)
    actions.hide_entry(entry=entry)
    return entry


@router.post(
    "/entries/{int:entry_id}/restore",
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Restore a deleted entry",
)
def restore_entry(request: HttpRequest, entry_id: int):
    """Bring a deleted entry back where it was; readers see it return. Idempotent."""
    entry = get_entry_for_editor(request.auth, entry_id)
    actions.restore_entry(entry=entry)
    return entry
