"""Plan a programme import against the database, then apply it, all in one transaction.

A Plan says what an import would do (new sessions, changed ones with the fields that
change, unchanged ones, and those gone from the file); `apply` carries it out. The command
and a future upload-preview-apply page share both: preview is a plan, apply is apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from events.models import Event
from programme.data import ProgrammeData, ProgrammeError, SessionData, SpeakerData
from sessions.models import Session, Speaker

SLUG_MAX = 100
# What an import may set on a session; status, last_seq and status_seq are never touched.
PLAIN_FIELDS = ("title", "description", "room", "starts_at", "ends_at")


@dataclass
class Change:
    session: Session
    data: SessionData
    fields: list[str]


@dataclass
class Plan:
    event_slug: str
    programme: ProgrammeData
    event: Event | None  # None: the event is created on apply
    new: list[SessionData] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    unchanged: list[Session] = field(default_factory=list)
    vanished: list[Session] = field(default_factory=list)  # gone from the file, no entries
    kept: list[Session] = field(default_factory=list)  # gone from the file, but blogged
    renamed: dict[int, str] = field(default_factory=dict)  # speaker pk: the file's new name


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    kept: int = 0
    renamed: int = 0  # speakers matched by id whose name changed
    vanished: int = 0  # gone from the file and left in place (no --prune)
    event_created: bool = False

    def summary(self) -> str:
        parts = [
            f"{self.created} created",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{self.removed} removed",
        ]
        if self.kept:
            parts.append(f"{self.kept} kept (gone from the file, but they have entries)")
        if self.vanished:
            parts.append(f"{self.vanished} gone from the file (--prune removes them)")
        if self.renamed:
            parts.append(f"{self.renamed} speakers renamed")
        return ", ".join(parts)


def import_programme(
    programme: ProgrammeData,
    event_slug: str,
    *,
    prune: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[Plan, Result]:
    """Plan and (unless dry_run) apply, in one transaction: all or nothing."""
    with transaction.atomic():
        plan = make_plan(programme, event_slug)
        if dry_run:
            return plan, forecast(plan, prune=prune)
        return plan, apply(plan, prune=prune, progress=progress)


def make_plan(programme: ProgrammeData, event_slug: str) -> Plan:
    event = Event.objects.filter(slug=event_slug).first()
    plan = Plan(event_slug=event_slug, programme=programme, event=event)
    if event is None and programme.zone_from_offsets:
        programme.warnings.append(
            f"the file names no time zone; the new event takes {programme.time_zone} from its"
            " times' offsets (change it in the admin)"
        )
    existing: dict[str, Session] = {}
    if event is not None:
        sessions = event.sessions.exclude(external_id="").prefetch_related("speakers")
        existing = {session.external_id: session for session in sessions}
    speakers = SpeakerMatcher(event_slug)
    for data in programme.sessions:
        session = existing.pop(data.external_id, None)
        if session is None:
            plan.new.append(data)
            continue
        fields = _changed_fields(session, data, programme.fields, speakers)
        if fields:
            plan.changed.append(Change(session, data, fields))
        else:
            plan.unchanged.append(session)
    # A person matched by id whose name changed in the file is renamed, sessions or not.
    for person in {s for data in programme.sessions for s in data.speakers if s.external_id}:
        speaker = speakers.find(person)
        if speaker and speaker.external_id and speaker.name != person.name:
            plan.renamed[speaker.pk] = person.name
    # Sessions made by hand (no external id) were never the file's: they never vanish.
    for session in existing.values():
        (plan.kept if session.entries.exists() else plan.vanished).append(session)
    return plan


def _changed_fields(
    session: Session, data: SessionData, carried: tuple[str, ...], speakers: SpeakerMatcher
) -> list[str]:
    fields = [f for f in PLAIN_FIELDS if f in carried and getattr(session, f) != getattr(data, f)]
    if "speakers" in carried:
        current = {speaker.pk for speaker in session.speakers.all()}
        wanted = [speakers.find(s) for s in data.speakers]
        if None in wanted or current != {speaker.pk for speaker in wanted if speaker}:
            fields.append("speakers")
    return fields


def forecast(plan: Plan, *, prune: bool) -> Result:
    return Result(
        created=len(plan.new),
        updated=len(plan.changed),
        unchanged=len(plan.unchanged),
        removed=len(plan.vanished) if prune else 0,
        kept=len(plan.kept),
        vanished=0 if prune else len(plan.vanished),
        renamed=len(plan.renamed),
        event_created=plan.event is None,
    )


def apply(
    plan: Plan, *, prune: bool = False, progress: Callable[[int], None] | None = None
) -> Result:
    """Carry out a plan; call it in the transaction that made the plan."""
    tick = progress or (lambda n: None)
    result = forecast(plan, prune=prune)
    carried = plan.programme.fields
    with transaction.atomic():
        event = plan.event or _create_event(plan)
        tick(len(plan.unchanged))
        for pk, name in plan.renamed.items():
            Speaker.objects.filter(pk=pk).update(name=name)
        speakers = SpeakerMatcher(plan.event_slug)
        slugs = set(event.sessions.values_list("slug", flat=True))
        # In time order, so that "Lunch", "lunch-2", "lunch-3" follow the days.
        for data in sorted(plan.new, key=lambda d: (d.starts_at, d.external_id)):
            session = Session(
                event=event,
                external_id=data.external_id,
                slug=_unique_slug(_session_slug(data), slugs),
                **{f: getattr(data, f) for f in PLAIN_FIELDS if f in carried},
            )
            session.save()
            if "speakers" in carried:
                session.speakers.set([speakers.get_or_create(s) for s in data.speakers])
            tick(1)
        for change in plan.changed:
            session = change.session
            plain = [f for f in change.fields if f in PLAIN_FIELDS]
            for name in plain:
                setattr(session, name, getattr(change.data, name))
            if plain:
                session.save(update_fields=plain)
            if "speakers" in change.fields:
                session.speakers.set([speakers.get_or_create(s) for s in change.data.speakers])
            tick(1)
        if prune:
            for session in plan.vanished:
                if not session.entries.exists():  # checked again, inside the transaction
                    session.delete()
    return result


def _create_event(plan: Plan) -> Event:
    programme = plan.programme
    name = (programme.name or plan.event_slug)[:200]
    event = Event(
        name=name,
        slug=plan.event_slug,
        city=_city(programme) or name[:100],
        time_zone=programme.time_zone or "UTC",
        starts_on=programme.starts_on,
        ends_on=programme.ends_on,
    )
    try:
        event.full_clean()
    except ValidationError as exc:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise ProgrammeError(f"cannot create event {plan.event_slug!r} ({details})") from None
    event.save()
    return event


def _city(programme: ProgrammeData) -> str:
    """The file's city; else the city of a geographic time zone (Europe/Berlin: Berlin)."""
    if programme.city:
        return programme.city[:100]
    area, _, place = programme.time_zone.rpartition("/")
    if area and area != "Etc" and place:
        return place.replace("_", " ")[:100]
    return ""


def _session_slug(data: SessionData) -> str:
    # Slugs stay ASCII: the URL patterns use Django's <slug:...> converter. A title with no
    # Latin letters (say, a Japanese one) falls back to the file's id.
    return slugify(data.title) or slugify(f"session-{data.external_id}") or "session"


def _unique_slug(base: str, taken: set[str]) -> str:
    base = base[:SLUG_MAX].strip("-") or "session"
    slug, n = base, 1
    while slug in taken:
        n += 1
        suffix = f"-{n}"
        slug = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
    taken.add(slug)
    return slug


class SpeakerMatcher:
    """Finds a file's person: by its id (scoped to the event), else by exact name."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self._cache: dict[SpeakerData, Speaker] = {}

    def external_id(self, data: SpeakerData) -> str:
        return f"{self.scope}/{data.external_id}"[:200] if data.external_id else ""

    def find(self, data: SpeakerData) -> Speaker | None:
        if data in self._cache:
            return self._cache[data]
        if external_id := self.external_id(data):
            speaker = Speaker.objects.filter(external_id=external_id).first()
            # Someone added by hand before the import, with no id yet, is claimed by name.
            return speaker or Speaker.objects.filter(external_id="", name=data.name).first()
        return Speaker.objects.filter(name=data.name).order_by("pk").first()

    def get_or_create(self, data: SpeakerData) -> Speaker:
        if data in self._cache:
            return self._cache[data]
        speaker = self.find(data)
        external_id = self.external_id(data)
        if speaker is None:
            speaker = Speaker.objects.create(
                name=data.name, external_id=external_id, slug=self._slug(data)
            )
        elif external_id and (speaker.external_id, speaker.name) != (external_id, data.name):
            # Matched by id: the file's name wins (a person may change the name they use).
            speaker.external_id, speaker.name = external_id, data.name
            speaker.save(update_fields=["external_id", "name"])
        self._cache[data] = speaker
        return speaker

    def _slug(self, data: SpeakerData) -> str:
        base = slugify(data.name) or slugify(f"speaker-{data.external_id}") or "speaker"
        taken = set(
            Speaker.objects.filter(slug__startswith=base[: SLUG_MAX - 4]).values_list(
                "slug", flat=True
            )
        )
        return _unique_slug(base, taken)
