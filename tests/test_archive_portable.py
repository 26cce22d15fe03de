"""Taking an event's archive away and bringing it back whole: export_archive, import_archive."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client

from archive import portable
from archive.models import Summary
from entries import actions, photos
from entries.models import Entry, Photo
from events.models import Event
from sessions.models import Speaker
from tests.conftest import post_entry
from tests.photo_files import SECRETS, photo, upright_top_colour
from tests.test_photos_api import SVG

pytestmark = pytest.mark.django_db


@pytest.fixture
def blogged(session, other_session, blogger, outsider, organiser, euan):
    """An event with what an archive must carry: every kind of entry, edits, a hidden one."""
    post_entry(session, blogger, "Scott Gould opens **Like Minds** — «ça commence» 🎤")
    quote = post_entry(
        session,
        blogger,
        "Social media's thingification worries me.",
        kind="quote",
        attribution_speaker=euan,
    )
    actions.set_key_moment(entry=quote, value=True)
    post_entry(
        session,
        blogger,
        "Hype cycles come round.",
        kind="quote",
        attribution_name="Alan Patrick",
        source_url="https://broadstuff.com/",
    )
    post_entry(
        session,
        blogger,
        "Social media is not a marketing bolt-on.",
        kind="citation",
        attribution_name="Alan Patrick",
        publication="Broadstuff",
        source_url="https://broadstuff.com/archives/2011/09/",
        published_on=dt.date(2011, 9, 20),
    )
    edited = post_entry(session, blogger, "Fist draft")
    actions.edit_entry(entry=edited, body="First draft, corrected")
    hidden = post_entry(session, blogger, "Posted by mistake")
    actions.hide_entry(entry=hidden)
    post_entry(other_session, outsider, "Labs preview\n\n- one\n- two")
    actions.set_session_status(session=session, status="ended", by=blogger)
    Summary.objects.create(session=session, body="Euan on *thingification*.", written_by=organiser)
    return session.event


def read_through_api(event: Event) -> dict:
    """Every session and visible entry of the event as the API answers, ids made positional."""
    client = Client()
    sessions = client.get(f"/api/sessions?event={event.slug}").json()
    read = {}
    for session in sessions:
        entries = client.get(f"/api/sessions/{session['id']}/entries").json()["entries"]
        entries = [entry for entry in entries if not entry["deleted"]]
        read[session["slug"]] = {"session": session, "entries": entries}
    return normalise(read)


def normalise(read: dict) -> dict:
    text = json.dumps(read, sort_keys=True)
    ids: dict[str, str] = {}

    def positional(match: re.Match) -> str:
        return ids.setdefault(match.group(0), f"/entries/#{len(ids)}/")

    text = re.sub(r"/entries/\d+/", positional, text)
    data = json.loads(text)

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in {"id", "event", "session"}}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(data)


def test_an_event_comes_back_whole_into_another_database(blogged, tmp_path):
    before = read_through_api(blogged)
    assert len(before["like-minds"]["entries"]) == 5
    path = tmp_path / "smw.json"
    call_command("export_archive", "--event", blogged.slug, "-o", str(path))
    exported = json.loads(path.read_text())
    assert exported["format"] == "liveblog-archive"
    assert exported["version"] == portable.VERSION

    # Another installation: nothing of the event, its speakers or its people is there.
    blogged.delete()
    Speaker.objects.all().delete()
    get_user_model().objects.all().delete()

    out = io.StringIO()
    call_command("import_archive", str(path), stdout=out)
    assert "Imported smw-london: 2 sessions, 6 entries" in out.getvalue()
    event = Event.objects.get(slug="smw-london")
    assert read_through_api(event) == before
    summary = Summary.objects.get(session__slug="like-minds")
    assert summary.written_by.username == "olivia"
    assert "<em>thingification</em>" in summary.html
    imported_author = get_user_model().objects.get(username="ben")
    assert not imported_author.is_active
    assert not imported_author.has_usable_password()


def test_hidden_entries_are_not_exported(blogged):
    data = portable.export_event(blogged)
    bodies = [entry["body"] for session in data["sessions"] for entry in session["entries"]]
    assert "Posted by mistake" not in bodies
    assert len(bodies) == 6


def test_an_import_is_searchable_at_once(blogged, tmp_path):
    from archive import search

    data = portable.export_event(blogged)
    portable.import_event(data, slug="smw-london-copy")
    copy = Event.objects.get(slug="smw-london-copy")
    hits, _ = search.search(search.query_for("thingification", event=copy))
    assert [hit.type for hit in hits] == ["quote"]


def test_an_event_already_here_is_refused_and_nothing_is_written(blogged, tmp_path):
    path = tmp_path / "smw.json"
    call_command("export_archive", "--event", blogged.slug, "-o", str(path))
    with pytest.raises(CommandError, match="is here already"):
        call_command("import_archive", str(path))


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda d: d.update(version=99), "version 99 is not one this installation reads"),
        (lambda d: d.update(format="other"), "not a liveblog archive"),
        (lambda d: d["sessions"][0].pop("title"), r"sessions\[0\]: 'title' is missing"),
        (
            lambda d: d["sessions"][0]["entries"][0].update(author="nobody"),
            "'nobody' is not among the archive's people",
        ),
        (
            lambda d: d["sessions"][0]["entries"][0].update(created_at="yesterday"),
            r"entries\[0\].created_at: expected a date and time",
        ),
        (
            lambda d: d["sessions"][0]["entries"][1].update(speaker=None, attribution_name=""),
            "A quote needs attribution",
        ),
        (
            lambda d: d["sessions"][0]["entries"][1].update(
                seq=d["sessions"][0]["entries"][0]["seq"],
                created_seq=d["sessions"][0]["entries"][0]["created_seq"],
            ),
            "two entries share a seq",
        ),
    ],
)
def test_a_broken_archive_is_refused_saying_where_and_nothing_is_written(
    blogged, tmp_path, mangle, message
):
    data = portable.export_event(blogged)
    mangle(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match=message):
        call_command("import_archive", str(path), "--slug", "copy")
    assert not Event.objects.filter(slug="copy").exists()


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "nope.json"
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("import_archive", str(path))


def test_an_unknown_event_is_refused_by_the_export(db, tmp_path):
    with pytest.raises(CommandError, match="No event with the slug 'nope'"):
        call_command("export_archive", "--event", "nope", "-o", str(tmp_path / "x.json"))


def test_the_markdown_export_reads_as_the_liveblog(blogged, tmp_path):
    path = tmp_path / "smw.md"
    call_command("export_archive", "--event", blogged.slug, "-o", str(path), "--format", "markdown")
    text = path.read_text()
    assert text.startswith("# Social Media Week London")
    assert "## Like Minds: the Social Business Immersive" in text
    assert "> Social media's thingification worries me.\n>\n> — Euan Semple" in text
    assert "(https://broadstuff.com/)" in text
    assert "### Summary\n\nEuan on *thingification*." in text
    assert "Posted by mistake" not in text
    assert "&#x27;" not in text and "&amp;" not in text


def test_the_html_export_is_a_zip_of_pages_that_open_offline(blogged, tmp_path):
    path = tmp_path / "smw.zip"
    call_command("export_archive", "--event", blogged.slug, "-o", str(path), "--format", "html")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert names == {
            "smw-london/index.html",
            "smw-london/style.css",
            "smw-london/like-minds.html",
            "smw-london/labs.html",
        }
        index = archive.read("smw-london/index.html").decode()
        page = archive.read("smw-london/like-minds.html").decode()
    assert 'href="like-minds.html"' in index
    assert "thingification" in page and "Posted by mistake" not in page
    # Nothing is fetched from anywhere: every src and stylesheet is inside the zip.
    assert not re.search(r'(src|href)="(https?:)?//(?!broadstuff\.com)', page)
    assert '<link rel="stylesheet" href="style.css">' in page


def test_times_survive_in_the_event_zone(blogged):
    data = portable.export_event(blogged)
    created = dt.datetime.fromisoformat(data["sessions"][0]["entries"][0]["created_at"])
    assert created.utcoffset() is not None


# ---- Photos ----------------------------------------------------------------------------


def stored_files() -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


@pytest.fixture
def photographed(session, blogger):
    """An event with a phone photo (EXIF with GPS, stored sideways) between two entries."""
    post_entry(session, blogger, "Before the slide")
    actions.post_photo(
        session=session,
        author=blogger,
        processed=photos.process(photo("JPEG")),
        alt="Euan's slide: a thing with a bow on it",
        caption="The *thingification* slide",
        key_moment=True,
    )
    post_entry(session, blogger, "After the slide")
    return session.event


def photo_read(event: Event) -> dict:
    """The event through the API, with each photo's URLs (new keys after an import) set by."""
    read = read_through_api(event)
    for session in read.values():
        for entry in session["entries"]:
            if entry["photo"]:
                entry["photo"] = {
                    k: v
                    for k, v in entry["photo"].items()
                    if k not in {"src", "srcset_webp", "srcset_jpeg"}
                }
    return read


def test_an_event_with_a_photo_comes_back_whole(photographed, tmp_path):
    before = photo_read(photographed)
    [entry] = [e for e in before["like-minds"]["entries"] if e["kind"] == "photo"]
    assert entry["alt"] == "Euan's slide: a thing with a bow on it"
    path = tmp_path / "smw.json"
    call_command("export_archive", "--event", photographed.slug, "-o", str(path))
    exported = json.loads(path.read_text())
    [raw] = [e for e in exported["sessions"][0]["entries"] if e["kind"] == "photo"]
    assert raw["photo"]["content_type"] == "image/jpeg"
    assert (raw["photo"]["width"], raw["photo"]["height"]) == (200, 300)

    photographed.delete()
    Photo.objects.all().delete()
    get_user_model().objects.all().delete()
    for file in stored_files():
        file.unlink()

    call_command("import_archive", str(path), stdout=io.StringIO())
    event = Event.objects.get(slug="smw-london")
    assert photo_read(event) == before
    imported = Entry.objects.get(session__event=event, kind="photo")
    assert imported.alt == "Euan's slide: a thing with a bow on it"
    assert imported.body == "The *thingification* slide"
    assert (imported.photo.width, imported.photo.height) == (200, 300)
    names = [item["name"] for item in imported.photo.renditions]
    assert {item["format"] for item in imported.photo.renditions} == {"webp", "jpeg"}
    assert sorted(str(Path(settings.MEDIA_ROOT) / name) for name in names) == [
        str(file) for file in stored_files()
    ]
    for name in names:
        data = default_storage.open(name).read()
        assert not any(secret in data for secret in SECRETS)
    jpeg = next(item["name"] for item in imported.photo.renditions if item["format"] == "jpeg")
    assert upright_top_colour(default_storage.open(jpeg).read()) == ((200, 300), "red")


def _set_photo(archive: dict, changes: dict) -> None:
    [raw] = [e for e in archive["sessions"][0]["entries"] if e["kind"] == "photo"]
    if "photo" in changes and changes["photo"] is None:
        raw["photo"] = None
        return
    raw["photo"].update(changes)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": _b64(b"plain text, not an image")}, "not a photo we can take"),
        ({"data": _b64(SVG)}, "not a photo we can take"),
        ({"data": "a truncated JPEG"}, "truncated or corrupt"),
        ({"data": "%%% not base64 %%%"}, "photo.data: expected base64"),
        ({"photo": None}, "a photo entry needs its photo object"),
    ],
    ids=["not an image", "an SVG", "a truncated JPEG", "not base64", "no photo object"],
)
def test_a_tampered_photo_is_refused_saying_where_and_nothing_is_written(
    photographed, change, message
):
    data = portable.export_event(photographed)
    if change.get("data") == "a truncated JPEG":
        whole = base64.b64decode(
            next(e for e in data["sessions"][0]["entries"] if e["kind"] == "photo")["photo"]["data"]
        )
        change = {"data": _b64(whole[: len(whole) // 2])}
    _set_photo(data, change)
    files, rows = stored_files(), (Entry.objects.count(), Photo.objects.count())

    with pytest.raises(portable.ArchiveError, match=r"sessions\[0\]\.entries\[1\]\.photo") as error:
        portable.import_event(data, slug="copy")

    assert message in str(error.value)
    assert not Event.objects.filter(slug="copy").exists()
    assert (Entry.objects.count(), Photo.objects.count()) == rows
    assert stored_files() == files


def test_a_failing_import_after_a_photo_removes_its_stored_files(photographed):
    data = portable.export_event(photographed)
    data["sessions"][0]["entries"][2]["created_at"] = "yesterday"  # after the photo
    files = stored_files()

    with pytest.raises(portable.ArchiveError, match=r"entries\[2\]\.created_at"):
        portable.import_event(data, slug="copy")

    assert Photo.objects.count() == 1
    assert stored_files() == files


def test_the_html_zip_carries_the_photos_and_its_page_shows_them_offline(photographed, tmp_path):
    path = tmp_path / "smw.zip"
    call_command(
        "export_archive", "--event", photographed.slug, "-o", str(path), "--format", "html"
    )
    photo_row = Photo.objects.get()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        page = archive.read("smw-london/like-minds.html").decode()
        files = {
            name: archive.read(name) for name in names if name.startswith("smw-london/photos/")
        }
    expected = {
        f"smw-london/photos/{photo_row.key}/{Path(item['name']).name}"
        for item in photo_row.renditions
    }
    assert set(files) == expected
    for item in photo_row.renditions:
        name = f"smw-london/photos/{photo_row.key}/{Path(item['name']).name}"
        assert files[name] == default_storage.open(item["name"]).read()
    # Every image the page names is in the zip, beside it.
    referenced = set(re.findall(r'src="([^"]+)"', page))
    for srcset in re.findall(r'srcset="([^"]+)"', page):
        referenced |= {part.strip().split(" ")[0] for part in srcset.split(",")}
    assert referenced and {f"smw-london/{name}" for name in referenced} <= set(files)
    assert '<source type="image/webp" srcset="photos/' in page
    assert 'alt="Euan&#x27;s slide: a thing with a bow on it"' in page
    assert re.search(r"<figcaption[^>]*><p>The <em>thingification</em> slide</p>", page)
    assert not re.search(r'(src|srcset)="(https?:)?/', page)


def test_the_markdown_links_the_photo_by_its_absolute_media_url(photographed, tmp_path):
    path = tmp_path / "smw.md"
    call_command(
        "export_archive",
        "--event",
        photographed.slug,
        "-o",
        str(path),
        "--format",
        "markdown",
        "--base-url",
        "https://liveblog.example.com",
    )
    photo_row = Photo.objects.get()
    largest = max(
        (item for item in photo_row.renditions if item["format"] == "jpeg"),
        key=lambda item: item["width"],
    )
    text = path.read_text()
    assert (
        f"![Euan's slide: a thing with a bow on it](https://liveblog.example.com/media/"
        f"{largest['name']})\n\nThe *thingification* slide" in text
    )


def test_the_markdown_download_links_the_photo_on_the_site(photographed, client, organiser):
    client.force_login(organiser)
    response = client.get(f"/exports/{photographed.slug}/markdown/")
    assert response.status_code == 200, response.status_code
    assert "](http://testserver/media/photos/" in response.content.decode()
