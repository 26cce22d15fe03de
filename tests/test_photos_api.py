"""Photos through the API: real JPEG, PNG, WebP and HEIC files from a phone, stripped of
every bit of metadata, turned upright, stored as renditions; hostile files refused with
nothing stored (no rows, no files)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from entries.models import Entry, Photo
from tests.photo_files import SECRETS, photo, upright_top_colour
from tests.test_api import bearer
from tests.test_body_limits import asgi_post

pytestmark = pytest.mark.django_db

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}


def photos_url(session) -> str:
    return f"/api/sessions/{session.pk}/photos"


def post_photo(client, session, data: bytes, name="slide.jpg", headers=None, **fields):
    form = {"alt": "Euan's slide: a thing with a bow on it", "caption": "The *thingification*"}
    form.update(fields)
    if data is not None:
        form["image"] = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post(photos_url(session), form, **(headers or {}))


def stored_files() -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_a_phone_photo_is_posted_stripped_upright_and_in_renditions(
    client, session, blogger, format
):
    response = post_photo(client, session, photo(format), headers=bearer(blogger))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "photo"
    assert body["alt"] == "Euan's slide: a thing with a bow on it"
    assert body["body"] == "The *thingification*"
    assert "<em>thingification</em>" in body["html"]
    assert (body["photo"]["width"], body["photo"]["height"]) == (200, 300)
    files = stored_files()
    assert {path.suffix for path in files} == {".webp", ".jpg"}
    for path in files:
        data = path.read_bytes()
        assert [secret for secret in SECRETS if secret in data] == []
        image = Image.open(io.BytesIO(data))
        assert dict(image.getexif()) == {}
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        assert upright_top_colour(data) == ((200, 300), "red")
    entry = Entry.objects.get()
    assert entry.photo.source_format == {"HEIF": "HEIF"}.get(format, format)


def test_the_reader_gets_an_img_with_srcset_sizes_dimensions_alt_lazy_and_a_caption(
    client, session, blogger
):
    post_photo(client, session, photo("JPEG"), headers=bearer(blogger))

    page = client.get(session.get_absolute_url()).content.decode()

    assert '<source type="image/webp" srcset="/media/photos/' in page
    assert 'width="200" height="300"' in page
    assert 'alt="Euan&#x27;s slide: a thing with a bow on it"' in page
    assert 'loading="lazy"' in page
    assert 'sizes="' in page
    assert "<figcaption" in page and "<em>thingification</em>" in page


def test_a_large_photo_gets_several_widths(client, session, blogger):
    big = io.BytesIO()
    Image.new("RGB", (2400, 1600), "green").save(big, "JPEG")

    response = post_photo(client, session, big.getvalue(), headers=bearer(blogger))

    assert response.status_code == 201
    widths = sorted({item["width"] for item in Photo.objects.get().renditions})
    assert widths == [480, 960, 1600]
    assert "480w" in response.json()["photo"]["srcset_webp"]


def test_a_png_named_jpg_is_taken_for_what_its_bytes_are(client, session, blogger):
    response = post_photo(client, session, photo("PNG"), name="slide.jpg", headers=bearer(blogger))

    assert response.status_code == 201
    assert Photo.objects.get().source_format == "PNG"


def test_a_retried_photo_with_the_same_idempotency_key_is_posted_once(client, session, blogger):
    headers = {**bearer(blogger), "HTTP_IDEMPOTENCY_KEY": "photo-1"}

    first = post_photo(client, session, photo("JPEG"), headers=headers)
    again = post_photo(client, session, photo("JPEG"), headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Entry.objects.count() == Photo.objects.count() == 1
    assert len(stored_files()) == len(Photo.objects.get().renditions)


def _bomb() -> bytes:
    # A PNG that claims 30,000 × 30,000 pixels (900 megapixels) in a few kilobytes.
    out = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(out, "PNG")
    return out.getvalue()


def _truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((800, 600), 64).convert("RGB").save(out, "JPEG")
    return out.getvalue()[: len(out.getvalue()) // 2]


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'
)
# A JPEG's first bytes in front of an HTML page with a script: a browser sniffing it may
# run it; no image decoder reads it as a picture.
POLYGLOT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<html><script>alert(document.cookie)</script>"

HOSTILE = {
    "a decompression bomb": (_bomb, 422, "too many pixels"),
    "a truncated JPEG": (_truncated_jpeg, 422, "truncated or corrupt"),
    "an SVG": (lambda: SVG, 422, "not a photo we can take"),
    "an SVG named .png": (lambda: SVG, 422, "not a photo we can take"),
    "a JPEG and HTML polyglot": (lambda: POLYGLOT, 422, "not a photo we can take"),
    "a GIF": (lambda: b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 422, "not a photo we can take"),
    "a zero-byte file": (lambda: b"", 422, "empty"),
    "20 MB and one byte": (lambda: b"\xff\xd8" + b"\x00" * (20 * 1024 * 1024 - 1), 413, "20 MB"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_file_is_refused_saying_why_with_nothing_stored(client, session, blogger, name):
    make, status, reason = HOSTILE[name]

    response = post_photo(client, session, make(), name="x.png", headers=bearer(blogger))

    assert response.status_code == status, response.content
    assert reason in response.json()["detail"]
    assert Entry.objects.count() == Photo.objects.count() == 0
    assert stored_files() == []
    assert session.__class__.objects.get(pk=session.pk).last_seq == 0


def test_a_photo_without_alt_text_is_refused_before_it_is_worked_on(client, session, blogger):
    response = post_photo(client, session, photo("JPEG"), headers=bearer(blogger), alt="  ")

    assert response.status_code == 422
    assert "alt text" in response.json()["detail"]
    assert stored_files() == [] and Photo.objects.count() == 0


def test_a_photo_with_no_alt_field_or_no_image_is_refused(client, session, blogger):
    no_alt = client.post(
        photos_url(session),
        {"image": SimpleUploadedFile("s.jpg", photo("JPEG"))},
        **bearer(blogger),
    )
    no_image = post_photo(client, session, None, headers=bearer(blogger))

    assert (no_alt.status_code, no_image.status_code) == (422, 422)
    assert stored_files() == []


def test_an_outsider_cannot_post_a_photo_and_nothing_is_stored(client, session, outsider):
    response = post_photo(client, session, photo("JPEG"), headers=bearer(outsider))

    assert response.status_code == 403
    assert stored_files() == [] and Photo.objects.count() == 0


def test_a_failing_entry_save_removes_the_stored_renditions(client, session, blogger, monkeypatch):
    def fail(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Entry, "save", fail)
    client.raise_request_exception = False

    response = post_photo(client, session, photo("JPEG"), headers=bearer(blogger))

    assert response.status_code == 500
    assert stored_files() == [] and Photo.objects.count() == 0


def test_a_photos_caption_and_alt_are_edited_and_its_kind_stays(client, session, blogger):
    entry_id = post_photo(client, session, photo("JPEG"), headers=bearer(blogger)).json()["id"]

    edited = client.patch(
        f"/api/entries/{entry_id}",
        {"alt": "A slide with a bow", "body": "New caption"},
        content_type="application/json",
        **bearer(blogger),
    )
    to_text = client.patch(
        f"/api/entries/{entry_id}",
        {"kind": "text"},
        content_type="application/json",
        **bearer(blogger),
    )

    assert edited.status_code == 200
    assert (edited.json()["alt"], edited.json()["body"]) == ("A slide with a bow", "New caption")
    assert to_text.status_code == 422
    assert "stays a photo" in to_text.json()["detail"]


@pytest.mark.parametrize(
    ("path", "length", "refused"),
    [
        ("/api/sessions/1/entries", 65 * 1024, True),
        ("/api/sessions/1/photos", 5 * 1024 * 1024, False),
        ("/api/sessions/1/photos", 20 * 1024 * 1024 + 64 * 1024 + 1, True),
        ("/events/smw/like-minds/console/photos/", 5 * 1024 * 1024, False),
        ("/events/smw/like-minds/console/entries/", 5 * 1024 * 1024, True),
    ],
)
async def test_the_photo_paths_alone_take_a_body_up_to_20_mb(path, length, refused):
    status, _, _, _ = await asgi_post(path, [b"x"], length=str(length).encode())

    assert (status == 413) is refused
