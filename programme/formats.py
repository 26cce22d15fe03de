"""Programme files in, ProgrammeData out: frab XML, pretalx JSON, iCalendar and CSV.

Pure functions of the file's bytes (and, for times that carry no zone, the zone of the event
they go into): no database, so the web upload-preview-apply flow can reuse them.
The format is told from the content, never from the file name.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import zoneinfo
from collections.abc import Iterable
from xml.etree.ElementTree import Element, ParseError

import icalendar
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as xml_fromstring

from programme.data import ProgrammeData, ProgrammeError, SessionData, SpeakerData

MAX_BYTES = 10 * 1024 * 1024  # a big congress (39C3, ~1,000 items) is well under 5 MB
MAX_SESSIONS = 5000
TITLE_MAX, ROOM_MAX, NAME_MAX, ID_MAX = 200, 100, 200, 200

NOT_A_SCHEDULE = "not a schedule: the file is neither frab XML, pretalx JSON, iCalendar nor CSV"


def parse(raw: bytes, default_tz: zoneinfo.ZoneInfo | None = None) -> ProgrammeData:
    """Read a programme file; `default_tz` places times that carry no zone of their own."""
    if len(raw) > MAX_BYTES:
        raise ProgrammeError(f"the file is too big ({len(raw):,} bytes; at most {MAX_BYTES:,})")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ProgrammeError("not UTF-16 text, though it starts like it") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    head = raw.lstrip()
    if not head:
        raise ProgrammeError("the file is empty")
    if b"\x00" in raw[:65536]:
        raise ProgrammeError("not a schedule: the file is binary (it has NUL bytes)")
    if head.startswith(b"<"):
        programme = _parse_frab_xml(raw, default_tz)
    elif head.startswith((b"{", b"[")):
        programme = _parse_pretalx_json(raw, default_tz)
    elif head[:15].upper() == b"BEGIN:VCALENDAR":
        programme = _parse_ical(raw, default_tz)
    else:
        programme = _parse_csv(raw, default_tz)
    _finish(programme)
    return programme


# Shared helpers ---------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProgrammeError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", f"line {line}"
        ) from None


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _clean(text: object) -> str:
    """One line of text: collapsed whitespace (names like ' Laura Poitras' come padded)."""
    return " ".join(str(text or "").split())


def _datetime(text: str, tz: dt.tzinfo | None, where: str, what: str) -> dt.datetime:
    text = text.strip()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ProgrammeError(
            f"{what} {text!r} is not a date and time such as 2025-05-16T09:30:00+02:00", where
        ) from None
    if value.tzinfo is None:
        if tz is None:
            raise ProgrammeError(
                f"{what} {text} has no UTC offset, and neither the file nor the event names a"
                " time zone",
                where,
            )
        value = value.replace(tzinfo=tz)
    return value


def _date(text: str, where: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise ProgrammeError(f"{what} {text!r} is not a date such as 2025-05-16", where) from None


def _time(text: str, where: str, what: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip().rjust(5, "0"))
    except ValueError:
        raise ProgrammeError(f"{what} {text!r} is not a time such as 09:30", where) from None


_DURATION = re.compile(r"^(\d+):(\d\d)(?::(\d\d))?$")


def _duration(text: str, where: str) -> dt.timedelta:
    """frab durations: "HH:MM", "D:HH:MM" for a day or more, "HH:MM:SS" (a zero-padded hour)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ProgrammeError(f"duration {text!r} is not HH:MM or D:HH:MM", where)
    first, second, third = match[1], int(match[2]), match[3]
    if third is None:
        hours, minutes, days = int(first), second, 0
    elif first.startswith("0") and len(first) == 2:  # 00:45:00 is HH:MM:SS
        days, hours, minutes = 0, int(first), second
    else:  # 1:02:00 is a day and two hours
        days, hours, minutes = int(first), second, int(third)
    if minutes >= 60 or (days and hours >= 24):
        raise ProgrammeError(f"duration {text!r} is not HH:MM or D:HH:MM", where)
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


def _description(abstract: str, description: str) -> str:
    abstract, description = (abstract or "").strip(), (description or "").strip()
    if abstract and description and abstract != description:
        return f"{abstract}\n\n{description}"
    return description or abstract


def _fixed_zone_name(offset: dt.timedelta) -> str:
    """An IANA name for a whole-hour offset: Etc/GMT-1 is +01:00 (POSIX signs are reversed)."""
    hours = offset.total_seconds() / 3600
    if hours == 0:
        return "UTC"
    if hours.is_integer() and -14 <= hours <= 12:
        return f"Etc/GMT{-int(hours):+d}"
    return ""


def _finish(programme: ProgrammeData) -> None:
    """Checks every format shares, and the conference's zone and dates when the file lacks them."""
    sessions = programme.sessions
    if not sessions:
        raise ProgrammeError(f"the {programme.format} file holds no sessions")
    if len(sessions) > MAX_SESSIONS:
        raise ProgrammeError(f"the file holds {len(sessions):,} sessions; at most {MAX_SESSIONS:,}")
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for session in sessions:
        where = session.where
        if not session.external_id:
            raise ProgrammeError("the session has no id, so a re-import could not match it", where)
        if len(session.external_id) > ID_MAX:
            raise ProgrammeError(f"the id is longer than {ID_MAX} characters", where)
        if session.external_id in seen:
            raise ProgrammeError(
                f"id {session.external_id!r} again (first at {seen[session.external_id]})", where
            )
        seen[session.external_id] = where
        if not session.title:
            raise ProgrammeError("the title is empty", where)
        if session.ends_at < session.starts_at:
            raise ProgrammeError(
                f"end {session.ends_at.isoformat()} is before start {session.starts_at.isoformat()}",
                where,
            )
        session.title = _truncate(session.title, TITLE_MAX)
        session.room = _truncate(session.room, ROOM_MAX)
        session.speakers = _unique(
            # One name per person id, the first the file gives, so a re-import is stable.
            SpeakerData(s.external_id, names.setdefault(s.external_id, _truncate(s.name, NAME_MAX)))
            if s.external_id
            else SpeakerData("", _truncate(s.name, NAME_MAX))
            for s in session.speakers
            if s.name
        )

    offsets = {s.starts_at.utcoffset() for s in sessions}
    zones = {s.starts_at.tzinfo for s in sessions}
    zone = _zone(programme.time_zone)
    if zone is None and len(zones) == 1 and isinstance(next(iter(zones)), zoneinfo.ZoneInfo):
        # Times placed in the event's zone (they had none of their own): that zone.
        programme.time_zone = next(iter(zones)).key
        zone = _zone(programme.time_zone)
    elif zone is None and len(offsets) == 1:
        programme.time_zone = _fixed_zone_name(next(iter(offsets)))
        programme.zone_from_offsets = programme.time_zone not in ("", "UTC")
        zone = _zone(programme.time_zone)
    elif zone is not None:
        mismatched = next(
            (
                s
                for s in sessions
                if s.starts_at.utcoffset() != s.starts_at.astimezone(zone).utcoffset()
            ),
            None,
        )
        if mismatched:
            programme.warnings.append(
                f"the file names time zone {programme.time_zone} but gives times such as"
                f" {mismatched.starts_at.isoformat()} in another offset; each time keeps its own"
                " offset"
            )
    local_dates = [s.starts_at.astimezone(zone or dt.UTC).date() for s in sessions]
    programme.starts_on = programme.starts_on or min(local_dates)
    programme.ends_on = programme.ends_on or max(local_dates)
    if programme.ends_on < programme.starts_on:
        programme.starts_on, programme.ends_on = min(local_dates), max(local_dates)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unique(speakers: Iterable[SpeakerData]) -> list[SpeakerData]:
    return list(dict.fromkeys(speakers))


# frab schedule XML (frab, pretalx, wafer) -------------------------------------------------


def _child(element: Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _parse_frab_xml(raw: bytes, default_tz: zoneinfo.ZoneInfo | None) -> ProgrammeData:
    try:
        # defusedxml refuses entity declarations (billion laughs, quadratic blow-up) and
        # external references; a schedule needs neither.
        root = xml_fromstring(raw)
    except DefusedXmlException as exc:
        raise ProgrammeError(
            f"refused: the XML declares entities or external references ({exc}); a schedule"
            " needs none"
        ) from None
    except ParseError as exc:
        line, column = exc.position
        raise ProgrammeError(f"not well-formed XML ({exc})", f"line {line}") from None
    except (ValueError, LookupError) as exc:
        raise ProgrammeError(f"unreadable XML ({exc})") from None
    if root.tag != "schedule":
        raise ProgrammeError(
            f"not a schedule: the XML's root is <{root.tag}>, not frab's <schedule>"
        )
    conference = root.find("conference")
    if conference is None:
        raise ProgrammeError("no <conference> element", "/schedule")
    zone_name = _child(conference, "time_zone_name")
    zone = _zone(zone_name)
    if zone_name and zone is None:
        raise ProgrammeError(
            f"unknown time zone {zone_name!r}", "/schedule/conference/time_zone_name"
        )
    tz = zone or default_tz
    programme = ProgrammeData(
        format="frab XML",
        name=_clean(_child(conference, "title")),
        city=_clean(_child(conference, "city")),
        time_zone=zone_name if zone else "",
    )
    if start := _child(conference, "start"):
        programme.starts_on = _date(start, "/schedule/conference/start", "start")
    if end := _child(conference, "end"):
        programme.ends_on = _date(end, "/schedule/conference/end", "end")
    day_change = None  # FOSDEM's <day_change>09:00:00</day_change>: earlier is the next day
    if text := _child(conference, "day_change"):
        day_change = _time(text[:5], "/schedule/conference/day_change", "day change")

    for d, day in enumerate(root.findall("day"), 1):
        day_path = f"/schedule/day[{d}]"
        day_date = _date(day.get("date", ""), day_path, "the day's date")
        day_start = None
        if day.get("start"):
            day_start = _datetime(day.get("start", ""), tz, day_path, "the day's start")
        for r, room in enumerate(day.findall("room"), 1):
            room_name = _clean(room.get("name"))
            room_path = (
                f"{day_path}/room[@name={room_name!r}]" if room_name else f"{day_path}/room[{r}]"
            )
            for e, event in enumerate(room.findall("event"), 1):
                where = f"{room_path}/event[{e}]"
                external_id = (event.get("guid") or event.get("id") or "").strip()
                if date := _child(event, "date"):
                    # <date> carries the day and the offset: the truth, also past midnight.
                    starts_at = _datetime(date, tz, f"{where}/date", "date")
                else:
                    start = _time(_child(event, "start"), f"{where}/start", "start")
                    if tz is None:
                        raise ProgrammeError(
                            "the event has a start but no <date>, and neither the file nor the"
                            " event names a time zone",
                            where,
                        )
                    starts_at = dt.datetime.combine(day_date, start, tzinfo=tz)
                    if _past_midnight(starts_at, day_start, day_change):
                        starts_at += dt.timedelta(days=1)
                duration = _duration(_child(event, "duration") or "00:00", f"{where}/duration")
                persons = event.findall("persons/person")
                programme.sessions.append(
                    SessionData(
                        external_id=external_id,
                        title=_clean(_child(event, "title")),
                        starts_at=starts_at,
                        ends_at=starts_at + duration,
                        room=_clean(_child(event, "room")) or room_name,
                        description=_description(
                            _child(event, "abstract"), _child(event, "description")
                        ),
                        speakers=[
                            SpeakerData((p.get("id") or "").strip(), _clean(p.text))
                            for p in persons
                        ],
                        where=where,
                    )
                )
    return programme


def _past_midnight(
    starts_at: dt.datetime, day_start: dt.datetime | None, day_change: dt.time | None
) -> bool:
    """A start of 00:30 on a conference day that runs to 04:00 is on the next calendar day."""
    if day_start is not None:
        return starts_at < day_start
    return day_change is not None and starts_at.time() < day_change


# pretalx schedule JSON (frab-compatible) --------------------------------------------------


def _s(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # a multilingual text, {"en": "...", "de": "..."}: the first
        return next((_s(text) for text in value.values() if _s(text)), "")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def _parse_pretalx_json(raw: bytes, default_tz: zoneinfo.ZoneInfo | None) -> ProgrammeData:
    text = _text(raw)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgrammeError(
            f"not valid JSON ({exc.msg})", f"line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ProgrammeError("not valid JSON (nested too deeply)") from None
    schedule = document.get("schedule") if isinstance(document, dict) else None
    if not isinstance(schedule, dict):
        raise ProgrammeError(
            'not a schedule: the JSON has no "schedule" object (pretalx/frab schedule JSON)'
        )
    conference = schedule.get("conference")
    if not isinstance(conference, dict):
        raise ProgrammeError("no conference object", "schedule.conference")
    zone_name = _s(conference.get("time_zone_name"))
    zone = _zone(zone_name)
    if zone_name and zone is None:
        raise ProgrammeError(
            f"unknown time zone {zone_name!r}", "schedule.conference.time_zone_name"
        )
    tz = zone or default_tz
    programme = ProgrammeData(
        format="pretalx JSON",
        name=_clean(_s(conference.get("title"))),
        city=_clean(_s(conference.get("city"))),
        time_zone=zone_name if zone else "",
    )
    if start := _s(conference.get("start")):
        programme.starts_on = _date(start, "schedule.conference.start", "start")
    if end := _s(conference.get("end")):
        programme.ends_on = _date(end, "schedule.conference.end", "end")
    days = conference.get("days")
    if not isinstance(days, list):
        raise ProgrammeError("no list of days", "schedule.conference.days")
    for d, day in enumerate(days):
        day_path = f"schedule.conference.days[{d}]"
        rooms = day.get("rooms") if isinstance(day, dict) else None
        if not isinstance(rooms, dict):
            raise ProgrammeError("no rooms object", f"{day_path}.rooms")
        day_date = _date(_s(day.get("date")), day_path, "the day's date")
        day_start = None
        if _s(day.get("day_start")):
            day_start = _datetime(
                _s(day.get("day_start")), tz, f"{day_path}.day_start", "day_start"
            )
        for room_name, events in rooms.items():
            room_path = f"{day_path}.rooms[{json.dumps(room_name, ensure_ascii=False)}]"
            if not isinstance(events, list):
                raise ProgrammeError("not a list of events", room_path)
            for e, event in enumerate(events):
                where = f"{room_path}[{e}]"
                if not isinstance(event, dict):
                    raise ProgrammeError("not an event object", where)
                if date := _s(event.get("date")):
                    starts_at = _datetime(date, tz, f"{where}.date", "date")
                else:
                    start = _time(_s(event.get("start")), f"{where}.start", "start")
                    if tz is None:
                        raise ProgrammeError(
                            "the event has a start but no date, and no time zone is named", where
                        )
                    starts_at = dt.datetime.combine(day_date, start, tzinfo=tz)
                    if _past_midnight(starts_at, day_start, None):
                        starts_at += dt.timedelta(days=1)
                duration = _duration(_s(event.get("duration")) or "00:00", f"{where}.duration")
                persons = event.get("persons") or []
                if not isinstance(persons, list):
                    raise ProgrammeError("persons is not a list", f"{where}.persons")
                speakers = [
                    SpeakerData(
                        _s(p.get("code") or p.get("guid") or p.get("id")),
                        _clean(_s(p.get("public_name") or p.get("name"))),
                    )
                    for p in persons
                    if isinstance(p, dict)
                ]
                programme.sessions.append(
                    SessionData(
                        external_id=_s(event.get("guid") or event.get("code") or event.get("id")),
                        title=_clean(_s(event.get("title"))),
                        starts_at=starts_at,
                        ends_at=starts_at + duration,
                        room=_clean(_s(event.get("room"))) or _clean(room_name),
                        description=_description(
                            _s(event.get("abstract")), _s(event.get("description"))
                        ),
                        speakers=speakers,
                        where=where,
                    )
                )
    return programme


# iCalendar --------------------------------------------------------------------------------


def _parse_ical(raw: bytes, default_tz: zoneinfo.ZoneInfo | None) -> ProgrammeData:
    # Unfold the bytes before decoding: exporters fold at 75 octets, which may fall in the
    # middle of a multi-byte UTF-8 character, so decoding line by line would break it.
    vevent_lines = [
        n for n, line in enumerate(raw.splitlines(), 1) if line.strip().upper() == b"BEGIN:VEVENT"
    ]
    text = _text(re.sub(rb"\r?\n[ \t]", b"", raw))
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise ProgrammeError(f"not valid iCalendar ({exc})") from None
    zone_name = _clean(calendar.get("X-WR-TIMEZONE"))
    calendar_tz = _zone(zone_name) or default_tz
    programme = ProgrammeData(
        format="iCalendar",
        name=_clean(calendar.get("X-WR-CALNAME")),
        time_zone=zone_name if _zone(zone_name) else "",
        # iCalendar names no speakers a programme could trust (ATTENDEE is anyone invited):
        # leave the sessions' speakers alone.
        fields=("title", "description", "room", "starts_at", "ends_at"),
    )
    for n, event in enumerate(calendar.walk("VEVENT")):
        where = f"line {vevent_lines[n]}" if n < len(vevent_lines) else f"VEVENT {n + 1}"
        if event.get("RRULE"):
            raise ProgrammeError("a repeating item (RRULE) is not a programme session", where)
        if _clean(event.get("STATUS")).upper() == "CANCELLED":
            programme.warnings.append(f"{where}: skipped a cancelled item")
            continue
        if event.get("DTSTART") is None:
            raise ProgrammeError("the item has no DTSTART", where)
        starts_at = _ical_time(event["DTSTART"], calendar_tz, where, "DTSTART")
        if not isinstance(starts_at, dt.datetime):
            programme.warnings.append(f"{where}: skipped an all-day item (a date, no time)")
            continue
        if event.get("DTEND") is not None:
            ends_at = _ical_time(event["DTEND"], calendar_tz, where, "DTEND")
            if not isinstance(ends_at, dt.datetime):
                raise ProgrammeError("DTEND is a date but DTSTART a time", where)
        elif event.get("DURATION") is not None:
            ends_at = starts_at + event["DURATION"].dt
        else:
            ends_at = starts_at  # RFC 5545: no end and no duration is an instant
        # The event's zone: the first TZID (icalendar maps Windows names such as
        # "W. Europe Standard Time" to IANA ones).
        tzid = event["DTSTART"].params.get("TZID")
        if not programme.time_zone and tzid and isinstance(starts_at.tzinfo, zoneinfo.ZoneInfo):
            programme.time_zone = starts_at.tzinfo.key
        programme.sessions.append(
            SessionData(
                external_id=_clean(event.get("UID")),
                title=_clean(event.get("SUMMARY")),
                starts_at=starts_at,
                ends_at=ends_at,
                room=_clean(event.get("LOCATION")),
                description=str(event.get("DESCRIPTION") or "").strip(),
                where=where,
            )
        )
    return programme


def _ical_time(prop, tz: dt.tzinfo | None, where: str, what: str) -> dt.datetime | dt.date:
    value = prop.dt
    if not isinstance(value, dt.datetime) or value.tzinfo is not None:
        return value
    tzid = prop.params.get("TZID")
    if tzid:
        # A TZID with no VTIMEZONE: fine when it is an IANA name, as most exporters write.
        zone = _zone(tzid)
        if zone is None:
            raise ProgrammeError(
                f"{what} names time zone {tzid!r}, which the file does not define (VTIMEZONE)"
                " and which is no IANA name",
                where,
            )
        return value.replace(tzinfo=zone)
    if tz is None:
        raise ProgrammeError(
            f"{what} is a floating time (no zone), and neither the calendar (X-WR-TIMEZONE) nor"
            " the event names one",
            where,
        )
    return value.replace(tzinfo=tz)


# CSV --------------------------------------------------------------------------------------

_CSV_COLUMNS = {
    "id": "id",
    "guid": "id",
    "uid": "id",
    "title": "title",
    "start": "start",
    "starttime": "start",
    "begin": "start",
    "date": "date",
    "day": "date",
    "end": "end",
    "endtime": "end",
    "duration": "duration",
    "room": "room",
    "location": "room",
    "speakers": "speakers",
    "speaker": "speakers",
    "speakernames": "speakers",
    "persons": "speakers",
    "description": "description",
    "abstract": "description",
}


def _csv_column(header: str) -> str:
    return _CSV_COLUMNS.get(re.sub(r"[\s_-]+", "", header.lower()), "")


def _parse_csv(raw: bytes, default_tz: zoneinfo.ZoneInfo | None) -> ProgrammeData:
    text = _text(raw)
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text.lstrip(), newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error:
        raise ProgrammeError(NOT_A_SCHEDULE) from None
    columns = {i: _csv_column(name) for i, name in enumerate(header) if _csv_column(name)}
    present = set(columns.values())
    if "title" not in present:
        if len([name for name in header if name.strip()]) < 2 or "\n" not in text.strip():
            raise ProgrammeError(NOT_A_SCHEDULE)
        found = ", ".join(repr(name.strip()) for name in header)
        raise ProgrammeError(
            f"a CSV header with no title column (it has {found}); the columns are named in"
            " docs/programme.md",
            "line 1",
        )
    if "id" not in present:
        raise ProgrammeError(
            "no id column: every row needs a stable id so that a re-import finds its session",
            "line 1",
        )
    if "start" not in present:
        raise ProgrammeError("no start column", "line 1")
    if not present & {"end", "duration"}:
        raise ProgrammeError("no end or duration column", "line 1")
    fields = ["title", "starts_at", "ends_at"] + [
        name for name in ("description", "room", "speakers") if name in present
    ]
    programme = ProgrammeData(format="CSV", fields=tuple(fields))
    line = reader.line_num
    while True:
        start_line = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ProgrammeError(f"unreadable CSV ({exc})", f"line {reader.line_num}") from None
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {start_line}"
        if len(row) > len(header):
            raise ProgrammeError(f"{len(row)} cells, but the header has {len(header)}", where)
        record = {name: row[i].strip() for i, name in columns.items() if i < len(row)}
        starts_at = _csv_start(record, default_tz, where)
        ends_at = _csv_end(record, starts_at, where)
        speakers_cell = record.get("speakers", "")
        separator = ";" if ";" in speakers_cell else ","
        programme.sessions.append(
            SessionData(
                external_id=record.get("id", ""),
                title=_clean(record.get("title")),
                starts_at=starts_at,
                ends_at=ends_at,
                room=_clean(record.get("room")),
                description=record.get("description", ""),
                speakers=[SpeakerData("", _clean(name)) for name in speakers_cell.split(separator)],
                where=where,
            )
        )
    return programme


def _csv_start(record: dict[str, str], tz: dt.tzinfo | None, where: str) -> dt.datetime:
    start = record.get("start", "")
    if not start:
        raise ProgrammeError("the start is empty", where)
    if record.get("date"):
        day = _date(record["date"], where, "date")
        return _datetime(
            f"{day.isoformat()}T{_time(start, where, 'start').isoformat()}", tz, where, "start"
        )
    return _datetime(start, tz, where, "start")


def _csv_end(record: dict[str, str], starts_at: dt.datetime, where: str) -> dt.datetime:
    end = record.get("end", "")
    if end:
        time_only = re.fullmatch(r"\d{1,2}:\d\d(:\d\d)?", end) is not None
        if time_only:
            # A bare time ends on the start's day: a session past midnight needs a duration
            # or a full date and time, rather than a guess.
            ends_at = dt.datetime.combine(
                starts_at.date(), _time(end, where, "end"), tzinfo=starts_at.tzinfo
            )
        else:
            ends_at = _datetime(end, starts_at.tzinfo, where, "end")
        if ends_at < starts_at:
            if time_only:
                reason = f"end {ends_at:%H:%M} is before start {starts_at:%H:%M}"
            else:
                reason = f"end {ends_at.isoformat()} is before start {starts_at.isoformat()}"
            raise ProgrammeError(reason, where)
        return ends_at
    duration = record.get("duration", "")
    if duration.isdigit():
        return starts_at + dt.timedelta(minutes=int(duration))
    if duration:
        return starts_at + _duration(duration, where)
    raise ProgrammeError("neither an end nor a duration", where)
