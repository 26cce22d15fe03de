"""Every change to a session's stream happens here, and nowhere else.

Posting, editing, hiding and restoring an entry, marking a key moment, starting and ending
a session: each function runs the change's transaction, takes the session's next sequence
number under its row lock, saves, builds what readers are told then and there, and hands
it to realtime.broadcast to send once the transaction commits (as Zulip's zerver/actions
do). Views, the API, the admin, management commands and the clock call these; a path
that saves a stream change any other way is a bug (tests/test_actions.py walks the doors).

Who may do what is the callers' to check (entries.permissions); what a change may be —
an entry's rules, a hidden entry staying hidden, the order of a session's statuses — is
checked here, so that every door keeps the same rules.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from entries import photos, stream
from entries.models import Entry, EntryRevision
from realtime import broadcast
from sessions.models import Session

# What a client may send as an Idempotency-Key (the console's outbox sends a UUID).
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
IDEMPOTENCY_KEY_RULE = "Idempotency-Key must be 1 to 100 letters, digits or - _ . :"

# The fields a blogger writes; everything else on an entry is the server's (a photo's
# image comes only with post_photo and never changes).
ENTRY_FIELDS = (
    "kind",
    "body",
    "attribution_speaker",
    "attribution_name",
    "source_url",
    "publication",
    "published_on",
    "alt",
)
# What counts as an edit: a change of words or attribution, not a key-moment mark. An
# edit keeps what it replaced as an EntryRevision.
CONTENT_FIELDS = (
    "kind",
    "body",
    "attribution_speaker_id",
    "attribution_name",
    "source_url",
    "publication",
    "published_on",
    "alt",
)
# Given by the server, not validated as user input.
SERVER_FIELDS = [
    "session",
    "author",
    "html",
    "created_at",
    "updated_at",
    "edited_at",
    "edited_by",
    "deleted_at",
    "photo",
    "answer_html",
    "created_seq",
    "seq",
    "idempotency_key",
    "idempotency_fingerprint",
]


class StreamRefused(Exception):
    """A change that the stream's rules refuse; the message says why, for the user."""

    status = 409


class EntryHidden(StreamRefused):
    """The entry is hidden (deleted): nothing changes it but a restore."""

    status = 410

    def __init__(self) -> None:
        super().__init__("This entry was deleted: restore it before changing it.")


class IdempotencyConflict(StreamRefused):
    """The Idempotency-Key was already used for a different entry."""

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used for a different entry.")


def parse_idempotency_key(value: str | None) -> str | None:
    """The header's key, None when absent; ValueError (with the rule) when malformed."""
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise ValueError(IDEMPOTENCY_KEY_RULE)
    return value


def _publish(entry: Entry, action: str) -> None:
    if action != Entry.Action.DELETED:
        stream.store_fragment(entry)  # what readers get now, and what catch-ups will read
    broadcast.send_on_commit(entry.session_id, entry.seq, stream.entry_payload(entry, action))


def _fingerprint(session: Session, fields: dict[str, Any]) -> str:
    canonical = {name: getattr(value, "pk", value) for name, value in sorted(fields.items())}
    canonical["session"] = session.pk
    encoded = json.dumps(canonical, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _replay(author, key: str, fingerprint: str) -> Entry | None:
    original = Entry.objects.filter(author=author, idempotency_key=key).first()
    if original is None:
        return None
    if original.idempotency_fingerprint != fingerprint:
        raise IdempotencyConflict()
    original.replayed = True
    return original


def post_entry(
    *,
    session: Session,
    author,
    kind: str = Entry.Kind.TEXT,
    body: str,
    attribution_speaker=None,
    attribution_name: str = "",
    source_url: str = "",
    publication: str = "",
    published_on=None,
    key_moment: bool = False,
    idempotency_key: str | None = None,
) -> Entry:
    """Publish a new entry: text, a quote or a citation (photos: post_photo). Raises ValidationError for an entry that breaks the rules.

    With an idempotency key, a retry of the same post returns the original entry (with
    `replayed` set) instead of a duplicate, even when retries race; the same key for a
    different post raises IdempotencyConflict.
    """
    fields = {
        "kind": kind,
        "body": body,
        "attribution_speaker": attribution_speaker,
        "attribution_name": attribution_name,
        "source_url": source_url,
        "publication": publication,
        "published_on": published_on,
        "key_moment": key_moment,
    }
    if kind == Entry.Kind.PHOTO:
        raise TypeError("a photo is posted with post_photo")
    entry = Entry(session=session, author=author, **fields)
    entry.full_clean(exclude=SERVER_FIELDS, validate_unique=False, validate_constraints=False)
    entry.replayed = False
    if idempotency_key:
        entry.idempotency_key = idempotency_key
        entry.idempotency_fingerprint = _fingerprint(session, fields)
        original = _replay(author, idempotency_key, entry.idempotency_fingerprint)
        if original is not None:
            return original
    try:
        with transaction.atomic():
            entry.seq = entry.created_seq = session.allocate_seq()
            entry.created_at = entry.updated_at = timezone.now()
            entry.render()
            entry.save()
            _publish(entry, Entry.Action.CREATED)
    except IntegrityError:
        # A concurrent retry with the same key won the race: answer with its entry.
        original = idempotency_key and _replay(
            author, idempotency_key, entry.idempotency_fingerprint
        )
        if not original:
            raise
        return original
    return entry


def post_question(*, session: Session, by, asker: str, question: str, answer: str = "") -> Entry:
    """Publish a reader's question that `by` approved (questions app), with their answer
    if any: an entry like any other, numbered and pushed to readers once it commits.

    Raises ValidationError for one that breaks an entry's rules (a name or words too long,
    text no database can store). Who may approve is the caller's to check.
    """
    entry = Entry(
        session=session,
        author=by,
        kind=Entry.Kind.QUESTION,
        body=question,
        attribution_name=asker,
        answer=answer,
    )
    entry.full_clean(exclude=SERVER_FIELDS, validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        entry.seq = entry.created_seq = session.allocate_seq()
        entry.created_at = entry.updated_at = timezone.now()
        entry.render()
        entry.save()
        _publish(entry, Entry.Action.CREATED)
    return entry


def check_photo_entry(*, session: Session, author, alt: str, caption: str = "") -> None:
    """The entry's rules for a photo, checked before its image is worked on (a refusal
    then costs nothing). Raises ValidationError."""
    entry = Entry(session=session, author=author, kind=Entry.Kind.PHOTO, body=caption, alt=alt)
    _clean_photo_fields(entry)


def _clean_photo_fields(entry: Entry) -> None:
    try:
        entry.full_clean(exclude=SERVER_FIELDS, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors = {
            name: messages
            for name, messages in error.message_dict.items()
            if name != "kind"  # "needs its image": the image is on its way
        }
        if errors:
            raise ValidationError(errors) from None


def post_photo(
    *,
    session: Session,
    author,
    processed: photos.Processed,
    alt: str,
    caption: str = "",
    key_moment: bool = False,
    idempotency_key: str | None = None,
) -> Entry:
    """Publish a photo entry from an image entries.photos has processed (off the loop).

    Its renditions are stored inside the entry's transaction and removed again if it does
    not commit, so a refused or failed post leaves neither a row nor a file. With an
    idempotency key, a retry returns the original entry, as for post_entry.
    """
    fields = {
        "kind": Entry.Kind.PHOTO,
        "body": caption,
        "alt": alt,
        "key_moment": key_moment,
        "image": processed.digest,
    }
    entry = Entry(
        session=session,
        author=author,
        kind=Entry.Kind.PHOTO,
        body=caption,
        alt=alt,
        key_moment=key_moment,
    )
    _clean_photo_fields(entry)
    entry.replayed = False
    if idempotency_key:
        entry.idempotency_key = idempotency_key
        entry.idempotency_fingerprint = _fingerprint(session, fields)
        original = _replay(author, idempotency_key, entry.idempotency_fingerprint)
        if original is not None:
            return original
    stored = None
    try:
        with transaction.atomic():
            stored = photos.store(processed)
            entry.photo = stored
            entry.full_clean(
                exclude=SERVER_FIELDS, validate_unique=False, validate_constraints=False
            )
            entry.seq = entry.created_seq = session.allocate_seq()
            entry.created_at = entry.updated_at = timezone.now()
            entry.render()
            entry.save()
            _publish(entry, Entry.Action.CREATED)
    except BaseException as error:
        if stored is not None:
            photos.discard(stored)
        original = (
            isinstance(error, IntegrityError)
            and idempotency_key
            and _replay(author, idempotency_key, entry.idempotency_fingerprint)
        )
        if not original:
            raise
        return original
    return entry


def _lock(session: Session) -> None:
    """Queue behind the session's other changes (its row lock on PostgreSQL; SQLite has
    one writer at a time), so that what is read next stays true until this one commits."""
    Session.objects.select_for_update().filter(pk=session.pk).exists()


def _is_hidden(entry: Entry) -> bool:
    return Entry.objects.filter(pk=entry.pk, deleted_at__isnull=False).exists()


def edit_entry(*, entry: Entry, by=None, **changes: Any) -> bool:
    """Change an entry's words, attribution or key-moment mark; False if nothing changed.

    Raises ValidationError for an entry that would break the rules, EntryHidden for a
    hidden one. Only a change of words or attribution marks the entry "edited", and keeps
    the version it replaces as an EntryRevision; `by` is who edits (None: the system).
    """
    unknown = set(changes) - {*ENTRY_FIELDS, "key_moment"}
    if unknown:
        raise TypeError(f"not an entry field: {', '.join(sorted(unknown))}")
    if entry.is_deleted:
        raise EntryHidden()
    # Compared with what is stored: a form may already have written its values onto entry.
    before = (
        Entry.objects.filter(pk=entry.pk)
        .values(
            *CONTENT_FIELDS,
            "key_moment",
            "deleted_at",
            "html",
            "created_at",
            "edited_at",
            "author_id",
            "edited_by_id",
        )
        .get()
    )
    if before["deleted_at"] is not None:
        raise EntryHidden()
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.full_clean(exclude=SERVER_FIELDS, validate_unique=False, validate_constraints=False)
    content_changed = any(getattr(entry, name) != before[name] for name in CONTENT_FIELDS)
    if not content_changed and entry.key_moment == before["key_moment"]:
        return False
    with transaction.atomic():
        _lock(entry.session)
        if _is_hidden(entry):
            raise EntryHidden()
        entry.seq = entry.session.allocate_seq()
        entry.updated_at = timezone.now()
        if content_changed:
            _keep_revision(entry, before, replaced_at=entry.updated_at)
            entry.edited_at = entry.updated_at
            entry.edited_by = by
            entry.render()
        entry.save()
        _publish(entry, Entry.Action.UPDATED)
    return True


def _keep_revision(entry: Entry, before: dict[str, Any], replaced_at) -> EntryRevision:
    fields = {name: before[name] for name in CONTENT_FIELDS}
    return EntryRevision.objects.create(
        entry=entry,
        html=before["html"],
        written_at=before["edited_at"] or before["created_at"],
        written_by_id=before["edited_by_id"] if before["edited_at"] else before["author_id"],
        replaced_at=replaced_at,
        **fields,
    )


def restore_revision(*, revision: EntryRevision, by=None) -> bool:
    """Bring back an earlier version of an entry: an edit like any other (readers see the
    entry change live, and the version it replaces is kept in turn). False if the entry
    already reads so. Raises EntryHidden for a hidden entry, ValidationError for a
    version that today's rules refuse (its speaker left the session, say)."""
    entry = revision.entry
    fields = {name: getattr(revision, name) for name in ENTRY_FIELDS}
    return edit_entry(entry=entry, by=by, **fields)


def set_key_moment(*, entry: Entry, value: bool) -> bool:
    """Mark or unmark a key moment (not an edit); False if it already was so."""
    return edit_entry(entry=entry, key_moment=value)


def hide_entry(*, entry: Entry) -> bool:
    """Hide (soft-delete) an entry: readers see it go; False if it already was hidden."""
    with transaction.atomic():
        _lock(entry.session)
        if _is_hidden(entry):
            return False
        entry.seq = entry.session.allocate_seq()
        entry.deleted_at = entry.updated_at = timezone.now()
        entry.save(update_fields=["seq", "deleted_at", "updated_at"])
        _publish(entry, Entry.Action.DELETED)
    return True


def restore_entry(*, entry: Entry) -> bool:
    """Bring a hidden entry back where it was in the stream; False if it was not hidden."""
    with transaction.atomic():
        _lock(entry.session)
        if not _is_hidden(entry):
            return False
        entry.seq = entry.session.allocate_seq()
        entry.deleted_at = None
        entry.updated_at = timezone.now()
        entry.save(update_fields=["seq", "deleted_at", "updated_at"])
        _publish(entry, Entry.Action.RESTORED)
    return True


class StatusRefused(StreamRefused):
    """A status change the session's rules do not allow."""


def set_session_status(*, session: Session, status: str, by=None) -> bool:
    """Start, end or reopen a session; readers see it live. False if nothing changed.

    Raises StatusRefused for a change the rules do not allow this user
    (Session.status_change_refused); `by` None is the system itself (the clock, a command).
    """
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        session.status, session.ended_at = locked.status, locked.ended_at
        reason = session.status_change_refused(status, by)
        if reason:
            raise StatusRefused(reason)
        if locked.status == status:
            return False
        fields = ["status", "ended_at", "status_seq"]
        if by is not None and locked.status == Session.Status.ENDED and locked.follows_schedule:
            # Reopened by a person after its end: the clock would end it again at once,
            # so the session stops following its schedule and is theirs to end.
            session.follows_schedule = False
            fields.append("follows_schedule")
        session.status = status
        session.ended_at = timezone.now() if status == Session.Status.ENDED else None
        session.status_seq = session.allocate_seq()
        session.save(update_fields=fields)
        broadcast.send_on_commit(session.pk, session.status_seq, stream.status_payload(session))
    return True


def load_archived_stream(*, session: Session, entries: list[Entry], last_seq: int = 0) -> None:
    """Bring back a session's stream from an archive (archive/portable.py, import_archive):
    its entries with the numbers they had, the session's counter where it was (`last_seq`)
    or past them.

    Only for a session created in the same transaction, which no reader can have open yet:
    nothing is broadcast. The entries have passed Entry.clean and been rendered.
    """
    assert transaction.get_connection().in_atomic_block, "an archive loads in one transaction"
    _lock(session)
    if Session.objects.filter(pk=session.pk, last_seq__gt=0).exists() or session.entries.exists():
        raise StreamRefused("an archive loads only into a new session")
    for field in ("seq", "created_seq"):
        numbers = [getattr(entry, field) for entry in entries]
        if len(set(numbers)) != len(numbers):
            raise StreamRefused(f"two entries share a {field}")
    Entry.objects.bulk_create(entries, batch_size=500)
    last_seq = max([last_seq, session.status_seq, *(entry.seq for entry in entries)])
    Session.objects.filter(pk=session.pk).update(last_seq=last_seq)
    session.last_seq = last_seq
