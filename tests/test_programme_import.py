"""Importing a conference programme: real exports of real conferences, and their quirks.

The files in tests/data/programmes/ are trimmed real exports (README.md there names each
source); a test that needs a quirk the real files lack derives a variant from one of them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from events.models import Event
from programme import formats
from programme.data import ProgrammeError
from sessions.models import Session, Speaker
from tests.conftest import post_entry

DATA = Path(__file__).parent / "data" / "programmes"
CCC = DATA / "36c3-schedule.xml"
DEMOCON = DATA / "pretalx-democon.json"
PYCON = DATA / "pycon-us-2025-plenary.ics"
SENDEZENTRUM = DATA / "sendezentrum-31c3.csv"
SENDEZENTRUM_CLEANED = DATA / "sendezentrum-31c3-cleaned.csv"
UTC = dt.UTC
BERLIN = dt.timezone(dt.timedelta(hours=1))

pytestmark = pytest.mark.django_db


def run(path: Path, event: str, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_programme", str(path), event=event, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def variant(tmp_path: Path, source: Path, *replacements: tuple[str, str], name: str = "") -> Path:
    """A copy of a real file with some text replaced (each replacement must apply)."""
    text = source.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / (name or source.name)
    path.write_text(text, encoding="utf-8")
    return path


def counts() -> tuple[int, int, int]:
    return Event.objects.count(), Session.objects.count(), Speaker.objects.count()


def refused(path: Path, event: str, **options) -> str:
    before = counts()
    with pytest.raises(CommandError) as exc:
        run(path, event, **options)
    assert counts() == before, "a refused file changed the database"
    return str(exc.value)


def berlin_event(slug: str) -> Event:
    """31C3 in Hamburg, where the Sendezentrum's CSV comes from."""
    return Event.objects.create(
        name="31C3",
        slug=slug,
        city="Hamburg",
        time_zone="Europe/Berlin",
        starts_on=dt.date(2014, 12, 27),
        ends_on=dt.date(2014, 12, 30),
    )


def congress_event() -> Event:
    """36C3, made by hand before its frab schedule is imported."""
    return Event.objects.create(
        name="36C3",
        slug="36c3",
        city="Leipzig",
        time_zone="Europe/Berlin",
        starts_on=dt.date(2019, 12, 27),
        ends_on=dt.date(2019, 12, 30),
    )


# Each format, from a real file --------------------------------------------------------------


def test_a_frab_schedule_creates_the_event_its_sessions_and_speakers():
    out, err = run(CCC, "36c3")

    assert "9 created, 0 updated, 0 unchanged, 0 removed" in out
    assert "(new event)" in out
    assert "Importing" not in err  # no progress bar when stdout is not a terminal
    event = Event.objects.get(slug="36c3")
    assert event.name == "36th Chaos Communication Congress"
    assert (event.starts_on, event.ends_on) == (dt.date(2019, 12, 27), dt.date(2019, 12, 30))
    # The file names no zone and no city: a fixed zone from its +01:00 offsets, and the
    # conference's name for the city (docs/programme.md).
    assert event.time_zone == "Etc/GMT-1"
    assert event.city == "36th Chaos Communication Congress"
    assert "names no time zone" in err
    opening = Session.objects.get(external_id="6a32cb72-a69d-423c-91b5-60d88eb8e6c7")
    assert opening.starts_at == dt.datetime(2019, 12, 27, 10, 0, tzinfo=UTC)
    assert opening.ends_at == dt.datetime(2019, 12, 27, 10, 30, tzinfo=UTC)
    assert opening.room == "Ada"
    assert sorted(s.name for s in opening.speakers.all()) == ["bleeptrack", "blinry"]
    assert Speaker.objects.get(name="LaForge").external_id == "36c3/1757"
    epa = Session.objects.get(external_id="c73debf0-e6be-4bde-84b5-afaddbe0e3fa")
    assert epa.title == '"Hacker hin oder her": Die elektronische Patientenakte kommt!'
    assert epa.slug == "hacker-hin-oder-her-die-elektronische-patientenakte-kommt"
    assert epa.description.startswith("Herzstück der digitalen")  # the abstract, then the rest
    assert epa.status == Session.Status.UPCOMING
    assert sorted(s.name for s in epa.speakers.all()) == [
        "Dr. André Zilch",
        "Martin Tschirsich",
        "cbro - Dr. med. Christian Brodowski",
    ]


def test_a_title_repeated_in_one_room_gets_slugs_in_time_order():
    run(CCC, "36c3")

    # The wiki's two "Translation Team Meeting"s on day 1, listed 19:40 first, then 15:00,
    # with guids that differ in their last character only.
    meetings = Session.objects.filter(title="Translation Team Meeting").order_by("starts_at")
    assert [(s.external_id[-2:], s.slug) for s in meetings] == [
        ("cd", "translation-team-meeting"),
        ("cf", "translation-team-meeting-2"),
    ]
    assert meetings[0].starts_at == dt.datetime(2019, 12, 27, 15, 0, tzinfo=BERLIN)


def test_a_talk_past_midnight_keeps_the_date_its_date_element_gives():
    run(CCC, "36c3")

    # Day 1 is 2019-12-27 (it runs to 04:00), but the Deep Space Night starts at 00:00 and
    # Hacker Jeopardy at 00:50 on the 28th.
    night = Session.objects.get(title="Doktor Ogen presents Deep Space Night")
    assert night.starts_at == dt.datetime(2019, 12, 28, 0, 0, tzinfo=BERLIN)
    assert night.ends_at == dt.datetime(2019, 12, 28, 2, 0, tzinfo=BERLIN)
    jeopardy = Session.objects.get(title="Hacker Jeopardy")
    assert jeopardy.starts_at == dt.datetime(2019, 12, 28, 0, 50, tzinfo=BERLIN)
    assert jeopardy.ends_at == dt.datetime(2019, 12, 28, 2, 50, tzinfo=BERLIN)


def test_without_date_elements_a_start_before_the_day_start_is_the_next_day(tmp_path):
    text = re.sub(r"<date>[^<]*</date>\n", "", CCC.read_text(encoding="utf-8"))
    path = tmp_path / "no-dates.xml"
    path.write_text(text, encoding="utf-8")
    congress_event()

    run(path, "36c3")

    night = Session.objects.get(title="Doktor Ogen presents Deep Space Night")
    assert night.starts_at == dt.datetime(2019, 12, 27, 23, 0, tzinfo=UTC)
    jeopardy = Session.objects.get(title="Hacker Jeopardy")
    assert jeopardy.starts_at == dt.datetime(2019, 12, 27, 23, 50, tzinfo=UTC)
    late = Session.objects.get(title="SIM card technology from A-Z")  # 23:30: the same day
    assert late.starts_at == dt.datetime(2019, 12, 27, 22, 30, tzinfo=UTC)


def test_without_dates_or_a_zone_a_new_event_is_refused_with_the_element_path(tmp_path):
    text = re.sub(r"<date>[^<]*</date>\n", "", CCC.read_text(encoding="utf-8"))
    path = tmp_path / "no-dates.xml"
    path.write_text(text, encoding="utf-8")

    message = refused(path, "36c3")

    assert "/schedule/day[1]/room[@name='Ada']/event[1]" in message
    assert "time zone" in message


def test_two_people_with_the_same_name_but_different_ids_stay_two_speakers():
    run(CCC, "36c3")

    # The merged 36C3 schedule lists blinry and bleeptrack under the Fahrplan's ids at the
    # opening and under the WikiPaka pretalx's ids at Operation Mindfuck.
    blinry = Speaker.objects.filter(name="blinry").order_by("external_id")
    assert [s.external_id for s in blinry] == ["36c3/23", "36c3/6697"]
    assert sorted(s.slug for s in blinry) == ["blinry", "blinry-2"]
    bleeptrack = Speaker.objects.filter(name="bleeptrack").order_by("external_id")
    assert [s.external_id for s in bleeptrack] == ["36c3/2", "36c3/9891"]


def test_a_name_with_a_leading_space_is_the_same_name(tmp_path):
    # 31C3 wrote " Laura Poitras" once; 36C3 has no such name, so one is made here.
    path = variant(
        tmp_path, CCC, ('<person id="23">blinry</person>', '<person id="23"> blinry</person>')
    )

    run(path, "36c3")

    blinry = Speaker.objects.filter(name="blinry").order_by("external_id")
    assert [s.external_id for s in blinry] == ["36c3/23", "36c3/6697"]


def test_pretalx_json_is_imported_and_a_speaker_is_shared_by_their_code():
    out, err = run(DEMOCON, "democon")

    assert "pretalx JSON" in out
    assert "5 created" in out
    event = Event.objects.get(slug="democon")
    assert (event.name, event.time_zone) == ("DemoCon", "UTC")
    # The file names UTC but writes its times at +01:00: the offsets win, with a warning.
    assert "names time zone UTC" in err
    first = Session.objects.get(external_id="8079583e-8321-506c-95af-fd2903a5f075")
    assert first.starts_at == dt.datetime(2020, 12, 14, 8, 0, tzinfo=UTC)
    curtis = Speaker.objects.get(name="Curtis Andrews")
    assert curtis.external_id == "democon/FMXAED"
    assert curtis.sessions.count() == 2


def test_a_person_id_given_two_names_in_one_file_keeps_the_first(tmp_path):
    document = json.loads(DEMOCON.read_text(encoding="utf-8"))
    talks = document["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"]
    talks[4]["persons"][0]["public_name"] = "Curtis Andrews (PSF)"
    path = tmp_path / "two-names.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    run(path, "democon")

    out, _ = run(path, "democon")

    assert "0 created, 0 updated, 5 unchanged, 0 removed" in out
    assert "renamed" not in out
    assert Speaker.objects.get(external_id="democon/FMXAED").name == "Curtis Andrews"


def test_a_utc_only_icalendar_file_with_repeated_titles_is_imported():
    out, _ = run(PYCON, "pycon-us-2025")

    assert "iCalendar" in out
    assert "19 created" in out
    event = Event.objects.get(slug="pycon-us-2025")
    # No X-WR-CALNAME, no zone: the slug names the event, and all times are UTC.
    assert (event.name, event.time_zone) == ("pycon-us-2025", "UTC")
    assert (event.starts_on, event.ends_on) == (dt.date(2025, 5, 15), dt.date(2025, 5, 18))
    lightning = Session.objects.filter(title="[plenary] Lightning Talks").order_by("starts_at")
    assert [s.slug for s in lightning] == [
        "plenary-lightning-talks",
        "plenary-lightning-talks-2",
        "plenary-lightning-talks-3",
        "plenary-lightning-talks-4",
    ]
    # Two receptions at the same time in the same hall, told apart by their UIDs only.
    assert Session.objects.filter(title="[plenary] Opening Reception").count() == 2
    keynote = Session.objects.get(external_id="e2ca9033-3f0f-5b89-bd7d-96cf9e2530b0")
    assert keynote.starts_at == dt.datetime(2025, 5, 16, 13, 45, tzinfo=UTC)
    assert keynote.room == "Hall B"


def test_a_cleaned_csv_goes_into_an_existing_event_in_its_time_zone():
    berlin_event("sendezentrum")
    Speaker.objects.create(name="Tim Pritlove", slug="tim")  # added by hand earlier

    out, _ = run(SENDEZENTRUM_CLEANED, "sendezentrum")

    assert "9 created" in out
    reunion = Session.objects.get(external_id="sz-18")
    assert reunion.starts_at == dt.datetime(2014, 12, 29, 23, 0, tzinfo=UTC)
    assert reunion.ends_at == dt.datetime(2014, 12, 30, 1, 0, tzinfo=UTC)
    # Speakers without ids are matched by exact name: one Tim, one Sendegate.
    assert Speaker.objects.filter(name="Tim Pritlove").count() == 1
    assert Speaker.objects.get(name="Tim Pritlove").sessions.count() == 2
    assert Speaker.objects.get(name="Das Sendegate").sessions.count() == 2
    assert Speaker.objects.get(name="Daniel Meßner").slug == "daniel-meßner".replace("ß", "")
    assert sorted(Session.objects.filter(title="tbd").values_list("slug", flat=True)) == [
        "tbd",
        "tbd-2",
    ]


def test_a_csv_with_times_but_no_zone_cannot_create_an_event():
    message = refused(SENDEZENTRUM_CLEANED, "sendezentrum")

    assert "line 2: start 2014-12-27T14:00:00 has no UTC offset" in message


def test_the_real_sendezentrum_csv_is_refused_for_its_header():
    message = refused(SENDEZENTRUM, "sendezentrum")

    # German headers, 12-hour times, "tbd" as an end: refused at the header, clearly.
    assert "line 1: a CSV header with no title column" in message
    assert "'Titel'" in message


# Re-imports -------------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing():
    run(CCC, "36c3")
    before = {s.external_id: (s.pk, s.slug) for s in Session.objects.all()}
    speakers = Speaker.objects.count()

    out, _ = run(CCC, "36c3")

    assert "0 created, 0 updated, 9 unchanged, 0 removed" in out
    assert {s.external_id: (s.pk, s.slug) for s in Session.objects.all()} == before
    assert Speaker.objects.count() == speakers


@pytest.mark.parametrize("path", [DEMOCON, PYCON], ids=["pretalx-json", "icalendar"])
def test_every_format_re_imports_as_unchanged(path):
    run(path, "conf")

    out, _ = run(path, "conf")

    assert re.search(r"0 created, 0 updated, \d+ unchanged, 0 removed", out)


def test_a_revised_file_updates_the_same_sessions_in_place(tmp_path):
    run(CCC, "36c3")
    keynote = Session.objects.get(external_id="3aae5c0a-9c9b-483a-8c09-b4402d749a82")
    # Live and blogged meanwhile: the import must not touch status or the sequence.
    Session.objects.filter(pk=keynote.pk).update(status="live", last_seq=7, status_seq=3)
    revised = variant(
        tmp_path,
        CCC,
        (
            "<title>The Case for Scale in Cyber Security</title>",
            "<title>The Case for Scale in Cyber Security: Security Track Keynote</title>",
        ),
        ('<person id="9846">Vincenzo Iozzo</person>', '<person id="9846">Vincenzo</person>'),
        ("<date>2019-12-28T00:50:00+01:00</date>", "<date>2019-12-28T01:20:00+01:00</date>"),
    )

    out, _ = run(revised, "36c3")

    assert "0 created, 2 updated, 7 unchanged, 0 removed" in out
    assert "1 speakers renamed" in out
    assert "title, speakers" not in out  # the keynote's speaker is the same person, renamed
    keynote.refresh_from_db()
    assert keynote.title == "The Case for Scale in Cyber Security: Security Track Keynote"
    assert keynote.slug == "the-case-for-scale-in-cyber-security"  # the URL stays
    assert (keynote.status, keynote.last_seq, keynote.status_seq) == ("live", 7, 3)
    speaker = keynote.speakers.get()
    assert (speaker.name, speaker.external_id) == ("Vincenzo", "36c3/9846")
    assert Speaker.objects.filter(name="Vincenzo Iozzo").count() == 0
    jeopardy = Session.objects.get(title="Hacker Jeopardy")
    assert jeopardy.starts_at == dt.datetime(2019, 12, 28, 0, 20, tzinfo=UTC)


def test_a_session_gone_from_the_file_is_reported_and_left_without_prune(tmp_path):
    run(CCC, "36c3")
    revised = variant(tmp_path, CCC, ('guid="d1b8ed3f', 'guid="gone-d1b8ed3f'))

    out, _ = run(revised, "36c3")

    assert "1 created" in out
    assert "gone from the file: hacker-jeopardy" in out
    assert "1 gone from the file (--prune removes them)" in out
    assert Session.objects.filter(external_id__startswith="d1b8ed3f").exists()


def test_prune_removes_vanished_sessions_but_keeps_one_with_entries(tmp_path, blogger):
    run(CCC, "36c3")
    blogged = Session.objects.get(title="The Case for Scale in Cyber Security")
    post_entry(blogged, blogger, "Vincenzo Iozzo opens the security track.")
    text = CCC.read_text(encoding="utf-8")
    for guid in ("3aae5c0a-9c9b-483a-8c09-b4402d749a82", "d1b8ed3f-2c22-47d2-9aca-0f9d3cf48eb8"):
        text, found = re.subn(
            rf' *<event id="\d+" guid="{guid}">.*?</event>\n', "", text, flags=re.S
        )
        assert found == 1
    path = tmp_path / "pruned.xml"
    path.write_text(text, encoding="utf-8")

    out, _ = run(path, "36c3", prune=True)

    assert "0 created, 0 updated, 7 unchanged, 1 removed, 1 kept" in out
    assert "kept (it has entries): the-case-for-scale-in-cyber-security" in out
    assert Session.objects.filter(pk=blogged.pk).exists()
    assert not Session.objects.filter(title="Hacker Jeopardy").exists()


def test_a_dry_run_reports_the_same_summary_and_changes_nothing(tmp_path):
    before = counts()

    out, _ = run(CCC, "36c3", dry_run=True)

    assert "Dry run, nothing changed: 9 created, 0 updated, 0 unchanged, 0 removed" in out
    assert counts() == before
    run(CCC, "36c3")
    revised = variant(
        tmp_path, CCC, ("<title>Hacker Jeopardy</title>", "<title>HACKER JEOPARDY</title>")
    )
    out, _ = run(revised, "36c3", dry_run=True, prune=True)
    assert "0 created, 1 updated, 8 unchanged, 0 removed" in out
    assert Session.objects.filter(title="Hacker Jeopardy").exists()


# Time zone quirks --------------------------------------------------------------------------


def _fold(line: bytes) -> bytes:
    """Fold at 75 octets as RFC 5545 says, blind to characters (as some exporters are)."""
    parts = [line[:75]] + [line[i : i + 74] for i in range(75, len(line), 74)]
    return b"\r\n ".join(parts)


def test_a_tzid_without_vtimezone_and_a_fold_inside_a_character_are_read(tmp_path):
    title = "基調講演: パイソンの未来とコミュニティ — 東京からの報告"
    summary = f"SUMMARY:{title}".encode()
    folded = _fold(summary)
    assert b"\r\n " in folded
    for cut in re.finditer(rb"\r\n ", folded):
        assert folded[cut.start() - 1] >= 0x80  # the fold lands inside a multi-byte character
        break
    text = PYCON.read_text(encoding="utf-8")
    text = text.replace(
        "DTEND:20250516T143000Z\nLOCATION:Hall B\nDTSTART:20250516T134500Z",
        "DTEND;TZID=America/New_York:20250516T103000\nLOCATION:Hall B\n"
        "DTSTART;TZID=America/New_York:20250516T094500",
    )
    raw = text.encode().replace(b"SUMMARY:[plenary] Keynote - Cory Doctorow", folded)
    path = tmp_path / "tzid.ics"
    path.write_bytes(raw)

    out, _ = run(path, "pycon")

    keynote = Session.objects.get(external_id="e2ca9033-3f0f-5b89-bd7d-96cf9e2530b0")
    assert keynote.title == title
    assert keynote.starts_at == dt.datetime(2025, 5, 16, 13, 45, tzinfo=UTC)  # EDT is -04:00
    assert keynote.slug == "session-e2ca9033-3f0f-5b89-bd7d-96cf9e2530b0"  # no Latin letters
    assert Event.objects.get(slug="pycon").time_zone == "America/New_York"


def test_a_tzid_that_is_no_zone_is_refused_with_its_line(tmp_path):
    path = variant(
        tmp_path,
        PYCON,
        ("DTSTART:20250516T130000Z", "DTSTART;TZID=Hall B Local Time:20250516T090000"),
    )

    message = refused(path, "pycon")

    assert message.endswith(
        "line 15: DTSTART names time zone 'Hall B Local Time', which the file does not define"
        " (VTIMEZONE) and which is no IANA name"
    )


def test_cancelled_and_all_day_items_are_skipped_with_a_warning(tmp_path):
    path = variant(
        tmp_path,
        PYCON,
        ("DTEND:20250516T132500Z", "DTEND;VALUE=DATE:20250517"),
        ("DTSTART:20250516T130000Z", "DTSTART;VALUE=DATE:20250516"),
        ("CONFIRMED\nSUMMARY:[plenary] Posters", "CANCELLED\nSUMMARY:[plenary] Posters"),
    )

    out, err = run(path, "pycon")

    assert "17 created" in out
    assert "line 15: skipped an all-day item" in err
    assert "line 26: skipped a cancelled item" in err


def test_durations_in_days_and_zero_length_items_are_read(tmp_path):
    path = variant(
        tmp_path,
        CCC,
        (
            "<start>00:50</start>\n        <duration>02:00</duration>",
            "<start>00:50</start>\n        <duration>1:02:00</duration>",
        ),
        (
            "<start>11:00</start>\n        <duration>00:30</duration>",
            "<start>11:00</start>\n        <duration>00:00</duration>",
        ),
    )

    run(path, "36c3")

    jeopardy = Session.objects.get(title="Hacker Jeopardy")
    assert jeopardy.ends_at - jeopardy.starts_at == dt.timedelta(days=1, hours=2)
    opening = Session.objects.get(title="Opening Ceremony")
    assert opening.ends_at == opening.starts_at
    # The wiki's own "1:20", unpadded, as the file has it.
    meeting = Session.objects.get(external_id="219d8a4f-cb9b-41cf-bcef-1e80ca4ba8cf")
    assert meeting.ends_at - meeting.starts_at == dt.timedelta(hours=1, minutes=20)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:30", dt.timedelta(minutes=30)),
        ("1:30", dt.timedelta(hours=1, minutes=30)),
        ("00:45:00", dt.timedelta(minutes=45)),  # HH:MM:SS, zero-padded hour
        ("1:02:00", dt.timedelta(days=1, hours=2)),  # frab's D:HH:MM
        ("0:00", dt.timedelta(0)),
    ],
)
def test_frab_durations_read_as_hours_minutes_or_days(text, expected):
    assert formats._duration(text, "here") == expected


@pytest.mark.parametrize("text", ["90", "1:75", "2:24:00", "soon", "-0:30"])
def test_a_duration_that_is_no_duration_is_refused(text):
    with pytest.raises(ProgrammeError, match="here: duration"):
        formats._duration(text, "here")


# Non-Latin titles and speakers ----------------------------------------------------------------


def test_non_latin_titles_and_speakers_get_ascii_slugs(tmp_path):
    document = json.loads(DEMOCON.read_text(encoding="utf-8"))
    talks = document["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"]
    talks[0]["title"] = "Программирование на Python"
    talks[0]["persons"][0]["public_name"] = "山田 太郎"
    talks[1]["title"] = "Δοκιμή"  # Greek: no Latin fallback either
    talks[1]["persons"][0]["public_name"] = "Ζωή Παπαδοπούλου"
    path = tmp_path / "non-latin.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    run(path, "democon")

    first = Session.objects.get(external_id=talks[0]["guid"])
    assert first.title == "Программирование на Python"
    assert first.slug == "python"
    second = Session.objects.get(external_id=talks[1]["guid"])
    assert second.slug == f"session-{talks[1]['guid']}"
    assert Speaker.objects.get(name="山田 太郎").slug == "speaker-nqtf8y"
    assert Speaker.objects.get(name="Ζωή Παπαδοπούλου").slug == "speaker-xhshng"
    assert second.get_absolute_url().endswith(f"/session-{talks[1]['guid']}/")


# The progress bar ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar_on_stderr(capsys):
    out = Terminal()

    call_command("import_programme", str(CCC), event="36c3", stdout=out)

    assert "Importing" in capsys.readouterr().err
    assert "9 created" in out.getvalue()


# Refusals: all or nothing ----------------------------------------------------------------


def test_a_bad_element_is_refused_with_its_path_and_nothing_is_changed(tmp_path):
    path = variant(
        tmp_path,
        CCC,
        (
            "<start>00:50</start>\n        <duration>02:00</duration>",
            "<start>00:50</start>\n        <duration>two hours</duration>",
        ),
    )

    message = refused(path, "36c3")

    assert message.endswith(
        "/schedule/day[1]/room[@name='Ada']/event[5]/duration:"
        " duration 'two hours' is not HH:MM or D:HH:MM"
    )


def test_a_bad_row_in_a_revised_file_leaves_the_earlier_import_whole(tmp_path):
    run(CCC, "36c3")
    before = list(Session.objects.values_list("pk", "title", "starts_at"))
    path = variant(
        tmp_path,
        CCC,
        ("<title>The Case for Scale in Cyber Security</title>", "<title>Renamed</title>"),
        ("<date>2019-12-28T00:50:00+01:00</date>", "<date>the 28th</date>"),
    )

    message = refused(path, "36c3")

    assert "event[5]/date: date 'the 28th' is not a date and time" in message
    assert list(Session.objects.values_list("pk", "title", "starts_at")) == before


def test_a_csv_row_that_ends_before_it_starts_is_refused_with_its_line(tmp_path, event):
    rows = ["id,title,date,start,end,room"]
    rows += [f"r{n},Talk {n},2026-11-24,09:{n:02d},09:{n + 1:02d},Main" for n in range(12)]
    rows.append("r99,Late,2026-11-24,11:00,10:00,Main")
    path = tmp_path / "programme.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    message = refused(path, event.slug)

    assert message.endswith("line 14: end 10:00 is before start 11:00")


def test_a_repeated_id_is_refused_with_both_places(tmp_path):
    path = variant(tmp_path, SENDEZENTRUM_CLEANED, ("sz-20,", "sz-19,"))
    berlin_event("sendezentrum")

    message = refused(path, "sendezentrum")

    assert message.endswith("line 10: id 'sz-19' again (first at line 9)")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<schedule><conference><title>&lol3;</title></conference></schedule>"""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"  \n\n ", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a schedule: the file is binary"),
        (b"Just some notes about the conference.\n", formats.NOT_A_SCHEDULE),
        (BOMB, "refused: the XML declares entities"),
        (b"<schedule><conference>", "line 1: not well-formed XML"),
        (b"<html><body>Schedule</body></html>", "not a schedule: the XML's root is <html>"),
        (b'{"talks": []}', 'not a schedule: the JSON has no "schedule" object'),
        (b'{"schedule": {"conference": {"days": [1,]}}}', "line 1 column 41: not valid JSON"),
        (
            "id,title,start,end\n1,Caf\xe9,2026-11-24T09:00Z,2026-11-24T10:00Z\n".encode("latin-1"),
            "line 2: not UTF-8 text (byte 0xe9)",
        ),
        (b"BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n", "the iCalendar file holds no sessions"),
    ],
    ids=[
        "empty",
        "blank",
        "binary",
        "prose",
        "xml-bomb",
        "broken-xml",
        "html",
        "other-json",
        "broken-json",
        "latin-1",
        "no-sessions",
    ],
)
def test_a_file_that_is_no_programme_is_refused_cleanly(tmp_path, content, reason):
    path = tmp_path / "upload"
    path.write_bytes(content)

    message = refused(path, "conf")

    assert reason in message
    assert not Event.objects.filter(slug="conf").exists()


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "programme.management.commands.import_programme.MAX_BYTES", 1000, raising=True
    )
    path = tmp_path / "huge.xml"
    path.write_bytes(b"<schedule>" + b" " * 2000 + b"</schedule>")

    assert "the file is too big (2,021 bytes; at most 1,000)" in refused(path, "conf")


def test_the_parser_itself_refuses_more_than_its_limit():
    with pytest.raises(ProgrammeError, match="too big"):
        formats.parse(b" " * (formats.MAX_BYTES + 1))


def test_a_missing_file_and_a_bad_slug_are_refused(tmp_path):
    assert "no such file" in refused(tmp_path / "nowhere.xml", "conf")
    assert "is not a slug" in refused(CCC, "36 c3!")


# The API after an import -------------------------------------------------------------------


def test_the_api_lists_every_imported_session_with_offsets_and_speakers(client):
    run(CCC, "36c3")

    response = client.get("/api/sessions?event=36c3")

    assert response.status_code == 200
    items = response.json()
    assert len(items) == 9
    listed = {item["title"]: item for item in items}  # a repeated title keeps one
    jeopardy = listed["Hacker Jeopardy"]
    assert jeopardy["room"] == "Ada"
    starts = dt.datetime.fromisoformat(jeopardy["starts_at"])
    assert starts.tzinfo is not None
    assert starts == dt.datetime(2019, 12, 28, 0, 50, tzinfo=BERLIN)
    assert dt.datetime.fromisoformat(jeopardy["ends_at"]) == dt.datetime(
        2019, 12, 28, 2, 50, tzinfo=BERLIN
    )
    assert sorted(s["name"] for s in jeopardy["speakers"]) == ["Ray", "Sec"]
    opening = listed["Opening Ceremony"]
    assert sorted(s["name"] for s in opening["speakers"]) == ["bleeptrack", "blinry"]
