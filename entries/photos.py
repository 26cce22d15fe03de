"""Photos from a phone, made safe to show: checked, stripped, turned upright, resized.

`process` is pure work on bytes (no database, no storage) and runs off the event loop in
a small pool of threads (`process_off_loop`; Pillow lets go of the GIL while it decodes,
resizes and encodes). It trusts nothing about an upload but its bytes: the type is what
Pillow recognises, the pixel count is checked from the header before anything is
decoded, and a truncated or corrupt file fails the decode. What it returns is pixels
re-encoded from scratch: no EXIF (GPS, the phone's model), no XMP, no ICC profile (the
colours are converted to sRGB first), no comment, nothing trailing the image data.

`store` writes the renditions through Django's default storage and returns the Photo
row; the actions call it inside the entry's transaction and `discard` undoes it when
that transaction does not commit, so a refused post leaves no file and no row.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pillow_heif
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageCms, ImageOps

from entries.models import Photo

pillow_heif.register_heif_opener()

# What Pillow may recognise an upload as; nothing else is even tried (no SVG, no GIF,
# no PDF, no formats with a history of decoder bugs).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
ACCEPTED = "JPEG, PNG, WebP or HEIC"
ORIENTATION = 0x0112  # the EXIF tag


class PhotoRefused(ValueError):
    """An upload that is not a photo we take; the message says why, for the blogger."""

    status = 422


class PhotoTooLarge(PhotoRefused):
    status = 413


@dataclass
class Rendition:
    width: int
    height: int
    format: str  # "webp" or "jpeg"
    data: bytes

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format


@dataclass
class Processed:
    width: int
    height: int
    source_format: str
    source_bytes: int
    digest: str  # of the upload: the same photo retried is the same post
    renditions: list[Rendition] = field(default_factory=list)


def check_size(size: int) -> None:
    """Refuse an empty upload, or one over the limit, before reading it any further."""
    if size == 0:
        raise PhotoRefused("The file is empty (0 bytes): choose the photo again.")
    if size > settings.PHOTO_MAX_BYTES:
        limit = settings.PHOTO_MAX_BYTES / (1024 * 1024)
        raise PhotoTooLarge(f"The photo is over {limit:g} MB: send a smaller one.")


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow's own bomb check warns (or raises) in open(); both mean the same here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PhotoRefused(_too_many_pixels()) from None
        except Image.UnidentifiedImageError:
            raise PhotoRefused(
                f"This file is not a photo we can take: send a {ACCEPTED} image "
                "(SVG and other formats are refused)."
            ) from None
        except (OSError, ValueError, SyntaxError) as error:
            raise PhotoRefused(f"The image is corrupt ({error}).") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > settings.PHOTO_MAX_PIXELS:
        raise PhotoRefused(_too_many_pixels())
    return image


def _too_many_pixels() -> str:
    return (
        f"The image has too many pixels (at most {settings.PHOTO_MAX_PIXELS / 1e6:g} "
        "megapixels): it was not decoded."
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB (or RGBA) pixels in sRGB, whatever the upload's mode and colour profile."""
    icc = image.info.get("icc_profile")
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        )
        image = image.convert("RGBA" if has_alpha else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            image = ImageCms.profileToProfile(image, source, target, outputMode=image.mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the pixels as they are
    return image


def _decode(data: bytes) -> tuple[Image.Image, str]:
    image = _open(data)
    source_format = image.format or "?"
    try:
        image.seek(0)  # an animated WebP or a HEIC burst: the first frame
        if source_format == "JPEG":
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the work: ask for the
            # smallest that still covers the widest rendition, upright.
            widest = max(settings.PHOTO_WIDTHS)
            turned = image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
            image.draft(image.mode, (1, widest) if turned else (widest, 1))
        image.load()
        upright = ImageOps.exif_transpose(image)
        upright = _to_srgb(upright)
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise PhotoRefused(
            f"The image is truncated or corrupt and cannot be read ({error})."
        ) from None
    except Image.DecompressionBombError:
        raise PhotoRefused(_too_many_pixels()) from None
    # A fresh image: only the pixels cross over, none of the upload's info (EXIF, XMP...).
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    return clean, source_format


def _encode(image: Image.Image, format: str) -> bytes:
    out = io.BytesIO()
    if format == "jpeg":
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def widths_for(width: int) -> list[int]:
    """The renditions' widths: the configured ones narrower than the photo, and the photo's
    own width when it is narrower than the widest configured."""
    widest = max(settings.PHOTO_WIDTHS)
    widths = {w for w in settings.PHOTO_WIDTHS if w < width}
    widths.add(min(width, widest))
    return sorted(widths, reverse=True)


def process(data: bytes) -> Processed:
    """Check, strip, turn upright and resize one upload. Raises PhotoRefused with why."""
    check_size(len(data))
    image, source_format = _decode(data)
    processed = Processed(
        width=0,
        height=0,
        source_format=source_format,
        source_bytes=len(data),
        digest=hashlib.sha256(data).hexdigest(),
    )
    current = image
    for width in widths_for(image.width):
        height = max(1, round(image.height * width / image.width))
        # Each from the one before it (they go from widest down): much less work.
        if current.size != (width, height):
            current = current.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        if not processed.width:
            processed.width, processed.height = width, height
        for format in ("webp", "jpeg"):
            processed.renditions.append(Rendition(width, height, format, _encode(current, format)))
    return processed


_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.PHOTO_WORKERS, thread_name_prefix="photos")
    return _pool


async def process_off_loop(data: bytes) -> Processed:
    """`process` in the photo threads: the event loop serves everyone else meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), process, data)


def store(processed: Processed) -> Photo:
    """Write the renditions through the default storage and save their Photo row."""
    key = uuid.uuid4().hex
    saved: list[str] = []
    try:
        for rendition in processed.renditions:
            name = f"photos/{key}/{rendition.width}w.{rendition.extension}"
            saved.append(default_storage.save(name, ContentFile(rendition.data)))
        return Photo.objects.create(
            key=key,
            width=processed.width,
            height=processed.height,
            source_format=processed.source_format,
            source_bytes=processed.source_bytes,
            renditions=[
                {"name": name, "width": r.width, "height": r.height, "format": r.format}
                for name, r in zip(saved, processed.renditions, strict=True)
            ],
        )
    except BaseException:
        delete_files(saved)
        raise


def delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def discard(photo: Photo) -> None:
    """Remove a photo's files (its row goes with the transaction that did not commit)."""
    delete_files([item["name"] for item in photo.renditions])
