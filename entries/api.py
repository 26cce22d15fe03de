"""The entry stream and its writes, for the JSON API (mounted by liveblog/api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from asgiref.sync import sync_to_async
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from pydantic import ConfigDict, Field, field_validator

from accounts.api import WRITE_AUTH
from entries import actions, photos
from entries.models import NOT_THIS_SESSIONS_SPEAKER, AuditEvent, Entry, EntryRevision, audit_events
from entries.permissions import (
    NOT_ORGANISER,
    check_post_rate,
    get_entry_for_editor,
    get_entry_for_moderator,
    get_entry_for_reviewer,
    require_blogger,
)
from events.models import Event, organises
from liveblog.jsonbody import BadBody, StrictJSONParser
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


class PhotoOut(Schema):
    width: int
    height: int
    src: str = Field(description="A JPEG about 960 px wide, for clients that take one image.")
    srcset_webp: str
    srcset_jpeg: str

    @staticmethod
    def resolve_src(photo, context) -> str:
        return context["request"].build_absolute_uri(photo.fallback_url)

    @staticmethod
    def resolve_srcset_webp(photo) -> str:
        return photo.webp_srcset

    @staticmethod
    def resolve_srcset_jpeg(photo) -> str:
        return photo.jpeg_srcset


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
    publication: str = Field(description="A citation's publication or handle.")
    published_on: dt.date | None = Field(description="A citation's date.")
    photo: PhotoOut | None = Field(None, description="A photo entry's image; body is its caption.")
    alt: str = Field(description="A photo's alt text.")
    answer: str = Field(
        description="A reader question's answer (Markdown); attribution is who asked."
    )
    answer_html: str = Field(description="The answer rendered to sanitised HTML.")
    key_moment: bool
    pinned: bool = Field(
        validation_alias="shown_pinned", description="Shown above the session's stream."
    )
    featured: bool = Field(description="Shown on the event's front page.")
    created_at: dt.datetime
    updated_at: dt.datetime
    edited: bool = Field(validation_alias="was_edited")
    edited_by_organiser: bool = Field(
        validation_alias="edited_by_other",
        description="Its latest edit was made by someone other than its author.",
    )
    deleted: bool = Field(validation_alias="is_deleted")
    url: str

    @staticmethod
    def resolve_body(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.body

    @staticmethod
    def resolve_html(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.html

    @staticmethod
    def resolve_answer(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.answer

    @staticmethod
    def resolve_answer_html(entry: Entry) -> str:
        return "" if entry.is_deleted else entry.answer_html

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


def _date_text(value):
    """A date is written YYYY-MM-DD: a number is not one (pydantic would take it as a time)."""
    if value is not None and not isinstance(value, str):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


class EntryIn(Schema):
    # Strict: "yes" is not true and "1" is not an id; a wrong type is a 422 that says so.
    model_config = ConfigDict(strict=True)

    kind: Literal["text", "quote", "citation"] = Field(
        "text", description="Photos are posted to /api/sessions/{id}/photos."
    )
    body: str = Field(description="Markdown; for a citation, the quoted text.")
    speaker: int | None = Field(
        None, ge=1, le=MAX_SEQ, description="A speaker of the session, for quotes."
    )
    attribution: str = Field(
        "",
        description="Who said or wrote it, when not a speaker of the session; a citation's author.",
    )
    source_url: str = Field(
        "", description="Where a quote comes from; a citation's link (http or https)."
    )
    publication: str = Field("", description="A citation's publication or handle.")
    published_on: dt.date | None = Field(
        None, strict=False, description="A citation's date (YYYY-MM-DD)."
    )
    key_moment: bool = False

    _date_is_text = field_validator("published_on", mode="before")(_date_text)


class EntryPatch(Schema):
    """Any of the fields; those left out stay as they are. As in a JSON merge patch, null
    clears what can be empty (speaker, attribution, source_url, publication, published_on,
    alt); kind, body and key_moment cannot be null."""

    model_config = ConfigDict(strict=True)

    # A default of None that is never validated: left out is fine, an explicit null is not.
    kind: Literal["text", "quote", "citation", "photo"] = None
    body: str = None
    key_moment: bool = None
    speaker: int | None = Field(None, ge=1, le=MAX_SEQ)
    attribution: str | None = None
    source_url: str | None = None
    publication: str | None = None
    published_on: dt.date | None = Field(None, strict=False)
    alt: str | None = None

    _date_is_text = field_validator("published_on", mode="before")(_date_text)


# API names for the entry's fields, both ways.
API_NAMES = {
    "attribution_speaker": "speaker",
    "attribution_name": "attribution",
    NON_FIELD_ERRORS: "entry",
}


# Fields that null clears (the schema refuses null for the others).
CLEARED_BY_NULL = {"attribution", "source_url", "publication", "alt"}


def _fields(payload: dict) -> dict:
    """The API's names to the entry's fields; a speaker id becomes the speaker (or None)."""
    fields = {}
    for name, value in payload.items():
        if value is None and name in CLEARED_BY_NULL:
            value = ""
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
        actions.edit_entry(
            entry=entry, by=request.auth, **_fields(payload.dict(exclude_unset=True))
        )
    except ValidationError as error:
        raise _invalid(error) from None
    except actions.StreamRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return entry


def _refused(refusal: actions.StreamRefused) -> HttpError:
    if refusal.status == 422:
        return _Invalid([{"loc": ["body", "reason"], "msg": str(refusal)}])
    return HttpError(refusal.status, str(refusal))


REASON_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "reason": {
                            "type": "string",
                            "maxLength": actions.REASON_MAX_LENGTH,
                            "description": "Why, for the event's audit log; required to hide "
                            "someone else's entry.",
                        }
                    },
                }
            }
        },
    }
}


def _reason(request: HttpRequest) -> str:
    """The optional JSON body's `reason`. No body (or one that is not JSON, as a bare
    form post sends) means none; JSON that cannot be read is a 400, a wrong shape a 422."""
    # The content type first: a form's body may already have been read (for its CSRF token).
    if request.content_type != "application/json" or not request.body:
        return ""
    try:
        data = StrictJSONParser().parse_body(request)
    except BadBody as error:
        raise HttpError(400, str(error)) from None
    if not isinstance(data, dict):
        message = 'The body must be a JSON object: {"reason": "..."}.'
        raise _Invalid([{"loc": ["body"], "msg": message}])
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _Invalid([{"loc": ["body", "reason"], "msg": "The reason must be text."}])
    return reason or ""


@router.delete(
    "/entries/{int:entry_id}", response=EntryOut, auth=WRITE_AUTH, summary="Delete an entry"
)
def delete_entry(request: HttpRequest, entry_id: int):
    """Hide your own entry: readers see it disappear; the stream keeps a tombstone until it
    is restored. Someone else's (as an organiser) takes a reason: POST .../hide."""
    entry = get_entry_for_editor(request.auth, entry_id)
    try:
        actions.hide_entry(entry=entry, by=request.auth)
    except actions.StreamRefused as refusal:
        raise _refused(refusal) from None
    return entry


@router.post(
    "/entries/{int:entry_id}/hide",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Hide an entry, with a reason",
)
def hide_entry(request: HttpRequest, entry_id: int):
    """Hide an entry for readers (they see it go): a blogger their own, an organiser of the
    event any, with a `reason` (required for someone else's entry) kept in the audit log.
    Idempotent: an entry already hidden answers 200 as it is."""
    reason = _reason(request)  # an unreadable body is a 400 before anything else
    entry = get_entry_for_editor(request.auth, entry_id)
    try:
        actions.hide_entry(entry=entry, by=request.auth, reason=reason)
    except actions.StreamRefused as refusal:
        raise _refused(refusal) from None
    return entry


@router.post(
    "/entries/{int:entry_id}/restore",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Restore a deleted entry",
)
def restore_entry(request: HttpRequest, entry_id: int):
    """Bring a hidden entry back where it was; readers see it return. Idempotent. A blogger
    their own, an organiser of the event any; an optional `reason` for the audit log."""
    reason = _reason(request)
    entry = get_entry_for_editor(request.auth, entry_id)
    try:
        actions.restore_entry(entry=entry, by=request.auth, reason=reason)
    except actions.StreamRefused as refusal:
        raise _refused(refusal) from None
    return entry


def _moderate(request: HttpRequest, entry_id: int, action) -> Entry:
    reason = _reason(request)
    entry = get_entry_for_moderator(request.auth, entry_id)
    try:
        action(entry=entry, by=request.auth, reason=reason)
    except actions.StreamRefused as refusal:
        raise _refused(refusal) from None
    return entry


@router.post(
    "/entries/{int:entry_id}/pin",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Pin an entry",
)
def pin_entry(request: HttpRequest, entry_id: int):
    """Show the entry above its session's stream, for every reader, live and on the page;
    the entry pinned before is unpinned. Organisers of the event only. 410 for a hidden
    entry; 200 as it is when already pinned."""
    return _moderate(request, entry_id, actions.pin_entry)


@router.post(
    "/entries/{int:entry_id}/unpin",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Unpin an entry",
)
def unpin_entry(request: HttpRequest, entry_id: int):
    """Put the pinned entry back in its place in the stream. Organisers of the event only."""
    return _moderate(request, entry_id, actions.unpin_entry)


@router.post(
    "/entries/{int:entry_id}/feature",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Feature an entry",
)
def feature_entry(request: HttpRequest, entry_id: int):
    """Show the entry on its event's front page. Organisers of the event only; 410 for a
    hidden entry."""
    return _moderate(request, entry_id, actions.feature_entry)


@router.post(
    "/entries/{int:entry_id}/unfeature",
    openapi_extra=REASON_BODY,
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Stop featuring an entry",
)
def unfeature_entry(request: HttpRequest, entry_id: int):
    """Take the entry off its event's front page. Organisers of the event only."""
    return _moderate(request, entry_id, actions.unfeature_entry)


class AuditOut(Schema):
    id: int
    action: AuditEvent.Action
    entry: int = Field(validation_alias="entry_id")
    session: int = Field(validation_alias="session_id")
    actor: str | None = Field(description="The username; null for the system.")
    reason: str
    at: dt.datetime
    before: dict = Field(description="The changed fields as they were.")
    after: dict = Field(description="The changed fields as they became.")
    seq: int | None = Field(description="The change's number in the session's stream.")

    @staticmethod
    def resolve_actor(event: AuditEvent) -> str | None:
        return event.actor.get_username() if event.actor_id else None


class AuditList(Schema):
    results: list[AuditOut]
    has_more: bool


class AuditQuery(Schema):
    session: int | None = Field(None, ge=1, le=MAX_SEQ, description="A session's id.")
    actor: str | None = Field(None, max_length=150, description="A username.")
    action: AuditEvent.Action | None = None
    entry: int | None = Field(None, ge=1, le=MAX_SEQ, description="An entry's id.")
    before: int | None = Field(
        None, ge=1, le=MAX_SEQ, description="Only events older than this one (its id)."
    )
    limit: int = Field(100, ge=1, le=500)


@router.get(
    "/events/{slug}/audit",
    response=AuditList,
    auth=WRITE_AUTH,
    summary="An event's audit log",
)
def audit_log(request: HttpRequest, slug: str, query: Query[AuditQuery]):
    """Moderation and edits by someone other than the author, newest first: for the
    event's organisers. Filter by `session`, `actor`, `action` and `entry`; page with
    `before` (the last `id` you got) while `has_more`."""
    event = get_object_or_404(Event, slug=slug)
    if not organises(request.auth, event):
        raise PermissionDenied(NOT_ORGANISER)
    events = audit_events(
        event,
        session=query.session,
        actor=query.actor,
        action=query.action,
        entry=query.entry,
    )
    if query.before is not None:
        events = events.filter(pk__lt=query.before)
    page = list(events.order_by("-pk")[: query.limit + 1])
    return {"results": page[: query.limit], "has_more": len(page) > query.limit}


class PhotoIn(Schema):
    alt: str = Field(description="What the photo shows, for who cannot see it (required).")
    caption: str = Field("", description="Markdown, shown under the photo.")
    key_moment: bool = False


async def _in_thread(function, *args, **kwargs):
    """Django's ORM from an async view: in Django's thread for sync code, off the loop."""
    return await sync_to_async(function)(*args, **kwargs)


@router.post(
    "/sessions/{int:session_id}/photos",
    response={201: EntryOut, 200: EntryOut},
    auth=WRITE_AUTH,
    summary="Post a photo",
)
async def create_photo(
    request: HttpRequest,
    session_id: int,
    image: File[UploadedFile],
    form: Form[PhotoIn],
):
    """Post a photo as an assigned blogger: multipart/form-data with `image` (JPEG, PNG,
    WebP or HEIC, up to 20 MB), `alt` and `caption`. The server strips every bit of
    metadata (GPS, the phone's model), turns it upright and stores resized copies. With an
    Idempotency-Key, a retry returns the original (200)."""
    alt, caption = form.alt, form.caption
    session, key = await _in_thread(_prepare_photo, request, session_id, image, alt, caption)
    data = await _in_thread(image.read)
    try:
        processed = await photos.process_off_loop(data)
    except photos.PhotoRefused as refusal:
        if refusal.status == 422:
            raise _Invalid([{"loc": ["form", "image"], "msg": str(refusal)}]) from None
        raise HttpError(refusal.status, str(refusal)) from None
    return await _in_thread(
        _post_photo, request, session, processed, alt, caption, form.key_moment, key
    )


def _prepare_photo(request, session_id, image, alt, caption):
    """Everything checked before the image is worked on: a refusal here costs nothing."""
    session = get_object_or_404(Session.objects.select_related("event"), pk=session_id)
    require_blogger(request.auth, session)
    key = _idempotency_key(request)
    try:
        photos.check_size(image.size)
    except photos.PhotoRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    try:
        actions.check_photo_entry(session=session, author=request.auth, alt=alt, caption=caption)
    except ValidationError as error:
        raise _invalid(error) from None
    check_post_rate(request.auth)
    return session, key


def _post_photo(request, session, processed, alt, caption, key_moment, key):
    try:
        entry = actions.post_photo(
            session=session,
            author=request.auth,
            processed=processed,
            alt=alt,
            caption=caption,
            key_moment=key_moment,
            idempotency_key=key,
        )
    except ValidationError as error:
        raise _invalid(error) from None
    except actions.StreamRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    # Everything the answer shows, read here: the async view may not touch the database.
    loaded = Entry.objects.for_display().get(pk=entry.pk)
    return Status(200 if entry.replayed else 201, loaded)


class RevisionOut(Schema):
    id: int
    kind: Entry.Kind
    body: str
    html: str
    speaker: SpeakerRef | None = Field(None, validation_alias="attribution_speaker")
    attribution: str = Field(validation_alias="attribution_name")
    source_url: str
    publication: str
    published_on: dt.date | None
    alt: str
    written_at: dt.datetime
    written_by: AuthorOut | None
    replaced_at: dt.datetime


@router.get(
    "/entries/{int:entry_id}/revisions",
    response=list[RevisionOut],
    auth=WRITE_AUTH,
    summary="An entry's earlier versions",
)
def revisions(request: HttpRequest, entry_id: int):
    """Every version an edit replaced, newest first: for the session's bloggers."""
    entry = get_entry_for_reviewer(request.auth, entry_id)
    return entry.revisions.select_related("written_by", "attribution_speaker")


@router.post(
    "/entries/{int:entry_id}/revisions/{int:revision_id}/restore",
    response=EntryOut,
    auth=WRITE_AUTH,
    summary="Restore an earlier version",
)
def restore_revision(request: HttpRequest, entry_id: int, revision_id: int):
    """Make an earlier version the entry's words again: an edit, pushed to readers live."""
    entry = get_entry_for_editor(request.auth, entry_id)
    revision = get_object_or_404(EntryRevision, pk=revision_id, entry=entry)
    revision.entry = entry
    try:
        actions.restore_revision(revision=revision, by=request.auth)
    except ValidationError as error:
        raise _invalid(error) from None
    except actions.StreamRefused as refusal:
        raise HttpError(refusal.status, str(refusal)) from None
    return entry
