"""Every change to a session's stream happens here, and nowhere else.

Posting, editing, hiding and restoring an entry, marking a key moment, pinning and
featuring it, publishing an approved reader's question, starting and ending a session:
each function runs the change's transaction, takes the session's next sequence number
under its row lock, saves, builds what readers are told then and there, and hands it to
realtime.broadcast to send once the transaction commits (as Zulip's zerver/actions
do). Views, the API, the admin, management commands and the clock call these; a path
that saves a stream change any other way is a bug (tests/test_actions.py walks the doors).

Who may do what is the callers' to check (entries.permissions); what a change may be —
an entry's rules, a hidden entry staying hidden, the order of a session's statuses — is
checked here, so that every door keeps the same rules. Moderation (hide, restore, pin,
feature) and edits by someone other than the author also write an AuditEvent in the same
transaction.
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
from entries.models import AuditEvent, Entry, EntryRevision
from liveblog.validators import refuse_unstorable_text
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
    "pinned",
    "featured",
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


def edit_entry(*, entry: Entry, by=None, reason: str = "", **changes: Any) -> bool:
    """Change an entry's words, attribution or key-moment mark; False if nothing changed.

    Raises ValidationError for an entry that would break the rules, EntryHidden for a
    hidden one. Only a change of words or attribution marks the entry "edited", and keeps
    the version it replaces as an EntryRevision; `by` is who edits (None: the system).
    An edit of words by someone other than the author (an organiser) is written to the
    audit log (AuditEvent "edited"), with `reason` if one is given.
    """
    return _edit(entry, by, AuditEvent.Action.EDITED, reason, changes)


def _edit(entry: Entry, by, audit_action: str, reason: str, changes: dict[str, Any]) -> bool:
    unknown = set(changes) - {*ENTRY_FIELDS, "key_moment"}
    if unknown:
        raise TypeError(f"not an entry field: {', '.join(sorted(unknown))}")
    if entry.is_deleted:
        raise EntryHidden()
    reason = clean_reason(reason)
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
    changed = [name for name in CONTENT_FIELDS if getattr(entry, name) != before[name]]
    if not changed and entry.key_moment == before["key_moment"]:
        return False
    with transaction.atomic():
        _lock(entry.session)
        if _is_hidden(entry):
            raise EntryHidden()
        entry.seq = entry.session.allocate_seq()
        entry.updated_at = timezone.now()
        if changed:
            _keep_revision(entry, before, replaced_at=entry.updated_at)
            entry.edited_at = entry.updated_at
            entry.edited_by = by
            entry.render()
        entry.save()
        _publish(entry, Entry.Action.UPDATED)
        if changed and by is not None and by.pk != before["author_id"]:
            _audit(
                entry,
                by=by,
                action=audit_action,
                reason=reason,
                before={_field_name(name): before[name] for name in changed},
                after={_field_name(name): getattr(entry, name) for name in changed},
            )
    return True


def _field_name(name: str) -> str:
    """A field as the audit log names it: the speaker's id as `attribution_speaker`."""
    return name.removesuffix("_id")


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


def restore_revision(*, revision: EntryRevision, by=None, reason: str = "") -> bool:
    """Bring back an earlier version of an entry: an edit like any other (readers see the
    entry change live, and the version it replaces is kept in turn). False if the entry
    already reads so. Raises EntryHidden for a hidden entry, ValidationError for a
    version that today's rules refuse (its speaker left the session, say). By someone
    other than the author, it is written to the audit log ("revision_restored")."""
    entry = revision.entry
    fields = {name: getattr(revision, name) for name in ENTRY_FIELDS}
    return _edit(entry, by, AuditEvent.Action.REVISION_RESTORED, reason, fields)


def set_key_moment(*, entry: Entry, value: bool) -> bool:
    """Mark or unmark a key moment (not an edit); False if it already was so."""
    return edit_entry(entry=entry, key_moment=value)


# ---- Moderation: hide, restore, pin, feature; each written to the audit log ---------------

REASON_MAX_LENGTH = 500
REASON_REQUIRED = (
    "Give a reason for hiding someone else's entry: the audit log keeps it for the "
    "event's organisers."
)


class ReasonRefused(StreamRefused):
    """A moderation reason that is missing where one is needed, too long, or unstorable."""

    status = 422


def clean_reason(reason: str | None, *, required: bool = False) -> str:
    """The reason as stored (stripped); ReasonRefused with the rule if it breaks one."""
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise ReasonRefused("The reason must be text.")
    try:
        refuse_unstorable_text(reason)
    except ValidationError as error:
        raise ReasonRefused(" ".join(error.messages)) from None
    reason = reason.strip()
    if required and not reason:
        raise ReasonRefused(REASON_REQUIRED)
    if len(reason) > REASON_MAX_LENGTH:
        raise ReasonRefused(
            f"A reason is at most {REASON_MAX_LENGTH} characters (this one is {len(reason):,})."
        )
    return reason


def _audit(
    entry: Entry,
    *,
    by,
    action: str,
    reason: str = "",
    before: dict[str, Any],
    after: dict[str, Any],
) -> AuditEvent:
    """Write the change to the audit log, in the change's transaction (after its save)."""
    assert transaction.get_connection().in_atomic_block, "an audit row goes with its change"
    return AuditEvent.objects.create(
        actor=by if getattr(by, "is_authenticated", False) else None,
        action=action,
        entry=entry,
        session_id=entry.session_id,
        event_id=entry.session.event_id,
        at=entry.updated_at,
        reason=reason,
        before=before,
        after=after,
        seq=entry.seq,
    )


def _read_flags(entry: Entry) -> None:
    """The moderation state as stored now (under the session's lock), onto the instance."""
    stored = Entry.objects.filter(pk=entry.pk).values("deleted_at", "pinned", "featured").get()
    for name, value in stored.items():
        setattr(entry, name, value)


def hide_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Hide (soft-delete) an entry: readers see it go; False if it already was hidden.

    `by` is who hides it (None: the system). Its author may hide it without a reason;
    anyone else must give one (ReasonRefused, a 422, otherwise). A pinned entry is
    unpinned as it is hidden (restoring it does not pin it again). Written to the audit
    log ("hidden"), with what changed.
    """
    required = by is not None and by.pk != entry.author_id
    reason = clean_reason(reason, required=required)
    with transaction.atomic():
        _lock(entry.session)
        _read_flags(entry)
        if entry.deleted_at is not None:
            return False
        before: dict[str, Any] = {"hidden": False}
        after: dict[str, Any] = {"hidden": True}
        if entry.pinned:
            before["pinned"], after["pinned"] = True, False
        entry.seq = entry.session.allocate_seq()
        entry.deleted_at = entry.updated_at = timezone.now()
        entry.pinned = False
        entry.save(update_fields=["seq", "deleted_at", "updated_at", "pinned"])
        _publish(entry, Entry.Action.DELETED)
        _audit(
            entry, by=by, action=AuditEvent.Action.HIDDEN, reason=reason, before=before, after=after
        )
    return True


def restore_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Bring a hidden entry back where it was in the stream; False if it was not hidden.

    Written to the audit log ("restored"); a reason is optional."""
    reason = clean_reason(reason)
    with transaction.atomic():
        _lock(entry.session)
        _read_flags(entry)
        if entry.deleted_at is None:
            return False
        entry.seq = entry.session.allocate_seq()
        entry.deleted_at = None
        entry.updated_at = timezone.now()
        entry.save(update_fields=["seq", "deleted_at", "updated_at"])
        _publish(entry, Entry.Action.RESTORED)
        _audit(
            entry,
            by=by,
            action=AuditEvent.Action.RESTORED,
            reason=reason,
            before={"hidden": True},
            after={"hidden": False},
        )
    return True


def _set_flag(entry: Entry, name: str, value: bool, *, by, action: str, reason: str) -> None:
    """One change of a moderation flag: its own seq, its payload, its audit row."""
    entry.seq = entry.session.allocate_seq()
    entry.updated_at = timezone.now()
    setattr(entry, name, value)
    entry.save(update_fields=["seq", "updated_at", name])
    _publish(entry, Entry.Action.UPDATED)
    _audit(
        entry, by=by, action=action, reason=reason, before={name: not value}, after={name: value}
    )


def pin_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Pin the entry above its session's stream, for every reader; False if it already is.

    A session has at most one pinned entry: the one pinned before is unpinned first, as a
    change of its own (its own seq, payload and audit row). Raises EntryHidden for a
    hidden entry. Both are written to the audit log ("unpinned", "pinned").
    """
    reason = clean_reason(reason)
    with transaction.atomic():
        _lock(entry.session)
        _read_flags(entry)
        if entry.deleted_at is not None:
            raise EntryHidden()
        if entry.pinned:
            return False
        pinned = Entry.objects.for_display().filter(session_id=entry.session_id, pinned=True)
        for other in pinned:
            _set_flag(
                other,
                "pinned",
                False,
                by=by,
                action=AuditEvent.Action.UNPINNED,
                reason=f"Entry #{entry.pk} was pinned in its place.",
            )
        _set_flag(entry, "pinned", True, by=by, action=AuditEvent.Action.PINNED, reason=reason)
    return True


def unpin_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Put the pinned entry back in its place in the stream; False if it was not pinned.
    Raises EntryHidden for a hidden entry (hiding already unpinned it)."""
    reason = clean_reason(reason)
    with transaction.atomic():
        _lock(entry.session)
        _read_flags(entry)
        if entry.deleted_at is not None:
            raise EntryHidden()
        if not entry.pinned:
            return False
        _set_flag(entry, "pinned", False, by=by, action=AuditEvent.Action.UNPINNED, reason=reason)
    return True


def set_featured(*, entry: Entry, value: bool, by=None, reason: str = "") -> bool:
    """Feature the entry on its event's front page (value True) or stop featuring it;
    False if it already was so. Raises EntryHidden for a hidden entry. Written to the
    audit log ("featured", "unfeatured")."""
    reason = clean_reason(reason)
    with transaction.atomic():
        _lock(entry.session)
        _read_flags(entry)
        if entry.deleted_at is not None:
            raise EntryHidden()
        if entry.featured == value:
            return False
        action = AuditEvent.Action.FEATURED if value else AuditEvent.Action.UNFEATURED
        _set_flag(entry, "featured", value, by=by, action=action, reason=reason)
    return True


def feature_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Feature the entry on its event's front page; False if it already is."""
    return set_featured(entry=entry, value=True, by=by, reason=reason)


def unfeature_entry(*, entry: Entry, by=None, reason: str = "") -> bool:
    """Stop featuring the entry; False if it was not featured."""
    return set_featured(entry=entry, value=False, by=by, reason=reason)


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
