"""Real photos made in the tests, as phones make them: EXIF with a GPS position, the
phone's make and model, and an orientation tag (6: the camera was held upright, so the
pixels are stored on their side and must be turned 90° clockwise to be seen right).

The image is 300×200 as stored: its left half red, its right half blue. Turned upright it
is 200×300 with red on top. `upright_top_colour` reads a photo back to say which way up.
"""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

pillow_heif.register_heif_opener()

# What must never reach a reader.
SECRETS = [b"Pixel 9 Secret", b"Acme Phones", b"51.5007", b"Westminster"]
LATITUDE = (51.0, 30.0, 2.52)  # 51.5007 N: the Palace of Westminster
LONGITUDE = (0.0, 7.0, 29.52)


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = "Acme Phones"
    exif[Base.Model] = "Pixel 9 Secret"
    exif[Base.Orientation] = 6
    exif[Base.ImageDescription] = "51.5007 Westminster"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = LATITUDE
    gps[GPS.GPSLongitudeRef] = "W"
    gps[GPS.GPSLongitude] = LONGITUDE
    return exif


def sideways(mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (300, 200), "blue")
    image.paste(Image.new(mode, (150, 200), "red"), (0, 0))
    return image


def photo(format: str) -> bytes:
    """A 300×200 photo, stored sideways, with GPS and the phone's model in its EXIF."""
    out = io.BytesIO()
    exif = _exif()
    if format == "HEIF":
        # As an iPhone writes one: pillow-heif records orientation 6 as the HEIF rotation
        # ('irot') that decoders apply, and keeps the EXIF (GPS, model) and the XMP.
        heif = pillow_heif.from_pillow(sideways())
        heif.info["exif"] = exif.tobytes()
        heif.info["xmp"] = b"<x:xmpmeta>Westminster 51.5007</x:xmpmeta>"
        heif.save(out, quality=90)
        return out.getvalue()
    image = sideways()
    extra = {"xmp": b"<x:xmpmeta>Westminster 51.5007</x:xmpmeta>"} if format == "WEBP" else {}
    if format == "PNG":
        extra = {"pnginfo": _png_text()}
    image.save(out, format, exif=exif.tobytes(), **extra)
    return out.getvalue()


def _png_text():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "Westminster 51.5007")
    return info


def upright_top_colour(data: bytes) -> tuple[tuple[int, int], str]:
    """(size, colour of the top middle) of an image: upright is 200×300 with red on top."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    r, g, b = image.getpixel((image.width // 2, image.height // 6))
    colour = "red" if r > 150 and b < 100 else "blue" if b > 150 and r < 100 else "other"
    return image.size, colour
