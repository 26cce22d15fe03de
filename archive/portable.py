"""An event taken away whole and brought back: the versioned JSON archive (docs/archive.md).

export_event() writes an event with its sessions, speakers, summaries and visible entries
(authors, times, key moments, quotes and their attributions, sequence numbers); hidden
entries stay behind. import_event() loads that into another installation, all or nothing,
so that every session and entry reads the same through the API there (ids may differ).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from archive.models import Summary
from entries import actions, photos
from entries.actions import SERVER_FIELDS
from entries.models import Entry, Photo
from events.models import Event
from sessions.models import Session, Speaker

FORMAT = "liveblog-archive"
VERSION = 1

Progress = Callable[[int], Any]


class ArchiveError(ValueError):
    """An archive that cannot be imported; the message says where and why."""


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user) -> dict:
    return {
        "username": user.get_username(),
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def count_entries(event: Event) -> int:
    return Entry.objects.visible().filter(session__event=event).count()


def export_event(event: Event, progress: Progress | None = None) -> dict:
    """The event as a JSON-ready dict in the archive schema, version VERSION."""
    people: dict[str, dict] = {}
    speakers: dict[str, dict] = {}
    sessions = []
    for session in event.sessions.prefetch_related("speakers", "bloggers").order_by(
        "starts_at", "pk"
    ):
        for speaker in session.speakers.all():
            speakers[speaker.slug] = _speaker(speaker)
        for user in session.bloggers.all():
            people[user.get_username()] = _person(user)
        entries = []
        for entry in (
            session.entries.visible()
            .select_related("author", "attribution_speaker", "photo")
            .order_by("created_seq")
        ):
            people[entry.author.get_username()] = _person(entry.author)
            if entry.attribution_speaker_id:
                speakers[entry.attribution_speaker.slug] = _speaker(entry.attribution_speaker)
            entries.append(
                {
                    "kind": entry.kind,
                    "body": entry.body,
                    "author": entry.author.get_username(),
                    "speaker": entry.attribution_speaker.slug
                    if entry.attribution_speaker_id
                    else None,
                    "attribution_name": entry.attribution_name,
                    "source_url": entry.source_url,
                    "publication": entry.publication,
                    "published_on": entry.published_on.isoformat() if entry.published_on else None,
                    "key_moment": entry.key_moment,
                    "created_at": _time(entry.created_at),
                    "updated_at": _time(entry.updated_at),
                    "edited_at": _time(entry.edited_at),
                    "created_seq": entry.created_seq,
                    "seq": entry.seq,
                    "alt": entry.alt,
                    "answer": entry.answer,
                    "photo": _photo(entry.photo) if entry.photo_id else None,
                }
            )
            if progress:
                progress(1)
        summary = Summary.objects.filter(session=session).select_related("written_by").first()
        if summary and summary.written_by:
            people[summary.written_by.get_username()] = _person(summary.written_by)
        sessions.append(
            {
                "slug": session.slug,
                "title": session.title,
                "external_id": session.external_id,
                "description": session.description,
                "room": session.room,
                "starts_at": _time(session.starts_at),
                "ends_at": _time(session.ends_at),
                "status": session.status,
                "ended_at": _time(session.ended_at),
                "last_seq": session.last_seq,
                "status_seq": session.status_seq,
                "speakers": [speaker.slug for speaker in session.speakers.all()],
                "bloggers": [user.get_username() for user in session.bloggers.all()],
                "summary": (
                    {
                        "body": summary.body,
                        "written_by": summary.written_by.get_username()
                        if summary.written_by
                        else None,
                        "updated_at": _time(summary.updated_at),
                    }
                    if summary
                    else None
                ),
                "entries": entries,
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "event": {
            "slug": event.slug,
            "name": event.name,
            "city": event.city,
            "time_zone": event.time_zone,
            "hashtag": event.hashtag,
            "series_hashtag": event.series_hashtag,
            "starts_on": event.starts_on.isoformat(),
            "ends_on": event.ends_on.isoformat(),
            "description": event.description,
        },
        "people": sorted(people.values(), key=lambda person: person["username"]),
        "speakers": sorted(speakers.values(), key=lambda speaker: speaker["slug"]),
        "sessions": sessions,
    }


def _photo(photo: Photo) -> dict:
    """The photo's largest JPEG rendition, its bytes in base64: the importer makes the
    other renditions from it again."""
    largest = max(
        (item for item in photo.renditions if item["format"] == "jpeg"),
        key=lambda item: item["width"],
    )
    with default_storage.open(largest["name"], "rb") as file:
        data = file.read()
    return {
        "content_type": "image/jpeg",
        "width": largest["width"],
        "height": largest["height"],
        "data": base64.b64encode(data).decode("ascii"),
    }


def _speaker(speaker: Speaker) -> dict:
    return {
        "slug": speaker.slug,
        "name": speaker.name,
        "affiliation": speaker.affiliation,
        "link": speaker.link,
        "external_id": speaker.external_id,
    }


# ---- Import ----------------------------------------------------------------------------


def entries_in(data: dict) -> int:
    try:
        return sum(len(session["entries"]) for session in data["sessions"])
    except (KeyError, TypeError):
        return 0


def _need(mapping: Any, key: str, where: str, kind: type | tuple = str) -> Any:
    if not isinstance(mapping, dict):
        raise ArchiveError(f"{where}: expected an object")
    if key not in mapping:
        raise ArchiveError(f"{where}: {key!r} is missing")
    value = mapping[key]
    if not isinstance(value, kind):
        raise ArchiveError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}")
    return value


def _opt(mapping: dict, key: str, where: str, kind: type | tuple = str, default: Any = "") -> Any:
    value = mapping.get(key, default)
    if value is None or value == default:
        return default
    if not isinstance(value, kind):
        raise ArchiveError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}")
    return value


def _when(value: Any, where: str, required: bool = True) -> dt.datetime | None:
    if value is None and not required:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ArchiveError(f"{where}: expected a date and time with its offset (ISO 8601)")
    return parsed


def _day(value: Any, where: str) -> dt.date:
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise ArchiveError(f"{where}: expected a date (YYYY-MM-DD)")
    return parsed


def _valid(obj, where: str, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        messages = "; ".join(
            f"{field}: {' '.join(found)}" for field, found in error.message_dict.items()
        )
        raise ArchiveError(f"{where}: {messages}") from None


def check_header(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ArchiveError(f'not a liveblog archive (its "format" must be {FORMAT!r})')
    version = data.get("version")
    if version != VERSION:
        raise ArchiveError(
            f"archive version {version!r} is not one this installation reads (it reads {VERSION})"
        )


def _photo_from(raw_entry: dict, where: str, stored: list[Photo]) -> Photo:
    """A photo entry's image, made again from the archive's bytes by entries.photos (the
    same checks as an upload, renditions made afresh) and stored; `stored` keeps it for
    import_event to remove should the import not commit."""
    raw = raw_entry.get("photo")
    if not isinstance(raw, dict):
        raise ArchiveError(f"{where}.photo: a photo entry needs its photo object")
    encoded = _need(raw, "data", f"{where}.photo")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ArchiveError(f"{where}.photo.data: expected base64") from None
    try:
        processed = photos.process(data)
    except photos.PhotoRefused as refusal:
        raise ArchiveError(f"{where}.photo: {refusal}") from None
    photo = photos.store(processed)
    stored.append(photo)
    return photo


def import_event(data: Any, *, slug: str | None = None, progress: Progress | None = None) -> Event:
    """Create the archive's event here, all or nothing; raises ArchiveError saying why not.

    The event must be new to this installation (no reader can be following its sessions),
    so its history is written as it was, with its own sequence numbers, rather than as new
    changes through entries.actions. Speakers and people are matched by slug and username,
    and created when missing (people inactive, with no password: an organiser lets them in).
    Photos' files are stored as the import goes and removed again if it does not commit
    (as entries.actions.post_photo does).
    """
    stored: list[Photo] = []
    try:
        with transaction.atomic():
            return _import_event(data, slug=slug, progress=progress, stored=stored)
    except BaseException:
        for photo in stored:
            photos.discard(photo)
        raise


def _import_event(
    data: Any, *, slug: str | None, progress: Progress | None, stored: list[Photo]
) -> Event:
    check_header(data)
    raw_event = _need(data, "event", "archive", dict)
    slug = slug or _need(raw_event, "slug", "event")
    if Event.objects.filter(slug=slug).exists():
        raise ArchiveError(
            f"an event with the slug {slug!r} is here already: import into an installation "
            "without it, or give the import another slug (--slug)"
        )
    event = Event(
        slug=slug,
        name=_need(raw_event, "name", "event"),
        city=_opt(raw_event, "city", "event"),
        time_zone=_opt(raw_event, "time_zone", "event", default="UTC"),
        hashtag=_opt(raw_event, "hashtag", "event"),
        series_hashtag=_opt(raw_event, "series_hashtag", "event"),
        starts_on=_day(raw_event.get("starts_on"), "event.starts_on"),
        ends_on=_day(raw_event.get("ends_on"), "event.ends_on"),
        description=_opt(raw_event, "description", "event"),
    )
    _valid(event, "event")
    event.save()

    people = {}
    users = get_user_model()
    for index, raw in enumerate(_need(data, "people", "archive", list)):
        where = f"people[{index}]"
        username = _need(raw, "username", where)
        user = users.objects.filter(username=username).first()
        if user is None:
            user = users(
                username=username,
                first_name=_opt(raw, "first_name", where),
                last_name=_opt(raw, "last_name", where),
                is_active=False,
            )
            user.set_unusable_password()
            _valid(user, where, exclude=["password"])
            user.save()
        people[username] = user

    speakers = {}
    for index, raw in enumerate(_need(data, "speakers", "archive", list)):
        where = f"speakers[{index}]"
        speaker_slug = _need(raw, "slug", where)
        external_id = _opt(raw, "external_id", where)
        speaker = Speaker.objects.filter(slug=speaker_slug).first()
        if speaker is None:
            if external_id and Speaker.objects.filter(external_id=external_id).exists():
                external_id = ""  # someone here has it: the slug is what matches
            speaker = Speaker(
                slug=speaker_slug,
                name=_need(raw, "name", where),
                affiliation=_opt(raw, "affiliation", where),
                link=_opt(raw, "link", where),
                external_id=external_id,
            )
            _valid(speaker, where)
            speaker.save()
        speakers[speaker_slug] = speaker

    def person(username: Any, where: str):
        if username not in people:
            raise ArchiveError(f"{where}: {username!r} is not among the archive's people")
        return people[username]

    def speaker_for(speaker_slug: Any, where: str) -> Speaker:
        if speaker_slug not in speakers:
            raise ArchiveError(f"{where}: {speaker_slug!r} is not among the archive's speakers")
        return speakers[speaker_slug]

    for index, raw in enumerate(_need(data, "sessions", "archive", list)):
        where = f"sessions[{index}]"
        session = Session(
            event=event,
            slug=_need(raw, "slug", where),
            title=_need(raw, "title", where),
            external_id=_opt(raw, "external_id", where),
            description=_opt(raw, "description", where),
            room=_opt(raw, "room", where),
            starts_at=_when(raw.get("starts_at"), f"{where}.starts_at"),
            ends_at=_when(raw.get("ends_at"), f"{where}.ends_at"),
            status=_need(raw, "status", where),
            ended_at=_when(raw.get("ended_at"), f"{where}.ended_at", required=False),
            status_seq=_opt(raw, "status_seq", where, int, default=0),
        )
        _valid(session, where)
        session.save()
        session.speakers.set(
            [speaker_for(s, f"{where}.speakers") for s in _need(raw, "speakers", where, list)]
        )
        session.bloggers.set(
            [person(u, f"{where}.bloggers") for u in _opt(raw, "bloggers", where, list, [])]
        )
        entries = []
        # The session's counter as it was: hidden entries, not exported, took numbers too.
        last_seq = _opt(raw, "last_seq", where, int, default=0)
        for number, raw_entry in enumerate(_need(raw, "entries", where, list)):
            entry_where = f"{where}.entries[{number}]"
            speaker_slug = raw_entry.get("speaker") if isinstance(raw_entry, dict) else None
            kind = _need(raw_entry, "kind", entry_where)
            entry = Entry(
                session=session,
                author=person(_need(raw_entry, "author", entry_where), f"{entry_where}.author"),
                kind=kind,
                body=_need(raw_entry, "body", entry_where),
                alt=_opt(raw_entry, "alt", entry_where),
                answer=_opt(raw_entry, "answer", entry_where),
                attribution_speaker=(
                    speaker_for(speaker_slug, f"{entry_where}.speaker") if speaker_slug else None
                ),
                attribution_name=_opt(raw_entry, "attribution_name", entry_where),
                source_url=_opt(raw_entry, "source_url", entry_where),
                publication=_opt(raw_entry, "publication", entry_where),
                published_on=(
                    _day(raw_entry["published_on"], f"{entry_where}.published_on")
                    if isinstance(raw_entry, dict) and raw_entry.get("published_on")
                    else None
                ),
                key_moment=_opt(raw_entry, "key_moment", entry_where, bool, default=False),
                created_at=_when(raw_entry.get("created_at"), f"{entry_where}.created_at"),
                updated_at=_when(raw_entry.get("updated_at"), f"{entry_where}.updated_at"),
                edited_at=_when(
                    raw_entry.get("edited_at"), f"{entry_where}.edited_at", required=False
                ),
                created_seq=_need(raw_entry, "created_seq", entry_where, int),
                seq=_need(raw_entry, "seq", entry_where, int),
            )
            if not 1 <= entry.created_seq <= entry.seq:
                raise ArchiveError(f"{entry_where}: created_seq must be from 1 to seq")
            if kind == Entry.Kind.PHOTO:
                entry.photo = _photo_from(raw_entry, entry_where, stored)
            # The same rules as every other door (entries.models.Entry.clean).
            _valid(entry, entry_where, exclude=SERVER_FIELDS)
            entry.render()
            entries.append(entry)
            last_seq = max(last_seq, entry.seq)
            if progress:
                progress(1)
        try:
            # Through the stream's actions, like every change to a stream.
            actions.load_archived_stream(session=session, entries=entries, last_seq=last_seq)
        except actions.StreamRefused as refusal:
            raise ArchiveError(f"{where}: {refusal}") from None
        raw_summary = raw.get("summary")
        if raw_summary:
            summary = Summary(
                session=session,
                body=_need(raw_summary, "body", f"{where}.summary"),
                written_by=(
                    person(raw_summary["written_by"], f"{where}.summary.written_by")
                    if raw_summary.get("written_by")
                    else None
                ),
            )
            _valid(summary, f"{where}.summary", exclude=["session", "written_by"])
            summary.save()
    return event
