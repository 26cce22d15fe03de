"""The entry stream and its writes, for the JSON API (mounted by liveblog/api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth
from pydantic import Field

from entries.forms import EntryForm
from entries.models import IDEMPOTENCY_KEY, ApiToken, Entry, IdempotencyConflict
from liveblog.ratelimit import hit
from sessions.models import Session

router = Router()

MAX_SEQ = 2**63 - 1


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
            key = ApiToken.hash(token)[:24]
            hit(f"api:{key}", limit=settings.RATE_LIMIT_API, window=60)
        return user


class BrowserSession(SessionAuth):
    """The browser's login, CSRF-checked. A request with no session cookie at all (a script
    without its token) is unauthenticated, 401, rather than refused for a missing CSRF token."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)


WRITE_AUTH = [BearerToken(), BrowserSession()]


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
    kind: Literal["text", "quote"] | None = None
    body: str | None = None
    speaker: int | None = Field(None, ge=1, le=MAX_SEQ)
    attribution: str | None = None
    source_url: str | None = None
    key_moment: bool | None = None


def _form_data(fields: dict) -> dict:
    """API field names to the console form's, so both doors share one set of rules."""
    if len(fields.get("body") or "") > settings.ENTRY_BODY_MAX_LENGTH:
        raise HttpError(413, f"body is longer than {settings.ENTRY_BODY_MAX_LENGTH} characters.")
    data = {
        "kind": fields["kind"],
        "body": fields["body"],
        "attribution_speaker": fields.get("speaker") or "",
        "attribution_name": fields.get("attribution") or "",
        "source_url": fields.get("source_url") or "",
    }
    if fields.get("key_moment"):
        data["key_moment"] = "on"
    return data


def _validated(form: EntryForm) -> EntryForm:
    if not form.is_valid():
        names = {
            "attribution_speaker": "speaker",
            "attribution_name": "attribution",
            "__all__": "entry",
        }
        errors = [
            {"loc": ["body", names.get(field, field)], "msg": message}
            for field, messages in form.errors.items()
            for message in messages
        ]
        raise _Invalid(errors)
    return form


class _Invalid(HttpError):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__(422, "; ".join(error["msg"] for error in errors))
        self.errors = errors


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise HttpError(400, "Idempotency-Key must be 1 to 100 letters, digits or - _ . :")
    return key


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
    if not session.can_blog(request.auth):
        raise HttpError(403, "You are not assigned to blog this session.")
    key = _idempotency_key(request)
    form = _validated(EntryForm(_form_data(payload.dict()), session=session))
    try:
        entry = form.save_entry(author=request.auth, idempotency_key=key)
    except IdempotencyConflict as conflict:
        raise HttpError(409, str(conflict)) from None
    return Status(200 if entry.replayed else 201, entry)


def _entry_for_editor(request: HttpRequest, entry_id: int) -> Entry:
    entry = get_object_or_404(Entry.objects.for_display(), pk=entry_id)
    entry.check_editor(request.auth)
    return entry


@router.patch(
    "/entries/{int:entry_id}", response=EntryOut, auth=WRITE_AUTH, summary="Edit an entry"
)
def edit_entry(request: HttpRequest, entry_id: int, payload: EntryPatch):
    entry = _entry_for_editor(request, entry_id)
    if entry.is_deleted:
        raise HttpError(410, "This entry was deleted.")
    current = {
        "kind": entry.kind,
        "body": entry.body,
        "speaker": entry.attribution_speaker_id,
        "attribution": entry.attribution_name,
        "source_url": entry.source_url,
        "key_moment": entry.key_moment,
    }
    current.update(payload.dict(exclude_unset=True))
    form = _validated(EntryForm(_form_data(current), instance=entry, session=entry.session))
    form.save_entry()
    return entry


@router.delete(
    "/entries/{int:entry_id}", response=EntryOut, auth=WRITE_AUTH, summary="Delete an entry"
)
def delete_entry(request: HttpRequest, entry_id: int):
    """Soft-delete: readers see it disappear; the stream keeps a tombstone."""
    entry = _entry_for_editor(request, entry_id)
    entry.soft_delete()
    return entry
