"""What a parsed programme file holds: plain data, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class ProgrammeError(ValueError):
    """A file refused, with where (a line or an element path) and why."""

    def __init__(self, reason: str, where: str = "") -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}" if where else reason)


@dataclass(frozen=True)
class SpeakerData:
    external_id: str  # the file's person id, "" when it has none
    name: str


@dataclass
class SessionData:
    external_id: str
    title: str
    starts_at: dt.datetime  # aware
    ends_at: dt.datetime  # aware
    room: str = ""
    description: str = ""
    speakers: list[SpeakerData] = field(default_factory=list)
    where: str = ""  # "line 14" or "/schedule/day[1]/room[@name='Saal 1']/event[2]"


# The session fields a format may carry; a re-import only touches the ones the file has.
SESSION_FIELDS = ("title", "description", "room", "starts_at", "ends_at", "speakers")


@dataclass
class ProgrammeData:
    format: str  # "frab XML", "pretalx JSON", "iCalendar", "CSV"
    name: str = ""
    city: str = ""
    time_zone: str = ""  # an IANA name, "" when the file names none
    zone_from_offsets: bool = False  # time_zone is a fixed zone (Etc/GMT-1) from the offsets
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    sessions: list[SessionData] = field(default_factory=list)
    fields: tuple[str, ...] = SESSION_FIELDS
    warnings: list[str] = field(default_factory=list)
