"""What a 12-megapixel phone photo costs to process: entries.photos.process, in process.

A 4000×3000 photo as a phone sends it (JPEG at quality 90 and HEIC, with EXIF: GPS, the
model, orientation 6), made here from a gradient with noise so that it compresses like a
photo rather than a flat image. Times the whole of `process` (sniff, pixel check, decode,
orientation, sRGB, the renditions in WebP and JPEG), p50 of REPEAT runs after one
unmeasured, on one thread; and, with PHOTO_WORKERS threads, how many photos a second a
worker gets through. Prints JSON; bench/run.py keeps it in its results, bench/report.py
writes it into docs/benchmarks.md.

    DJANGO_SETTINGS_MODULE=liveblog.settings python -m bench.photos
"""

from __future__ import annotations

import io
import json
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

REPEAT = 5
WIDTH, HEIGHT = 4000, 3000


def make_photo(format: str) -> bytes:
    from PIL import Image
    from PIL.ExifTags import GPS, IFD, Base

    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    noise = Image.effect_noise((WIDTH, HEIGHT), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    exif = Image.Exif()
    exif[Base.Model] = "Bench Phone"
    exif[Base.Orientation] = 6
    exif.get_ifd(IFD.GPSInfo)[GPS.GPSLatitude] = (51.0, 30.0, 2.0)
    out = io.BytesIO()
    image.save(out, format, quality=90, exif=exif.tobytes())
    return out.getvalue()


def measure(data: bytes) -> dict:
    from django.conf import settings

    from entries import photos

    photos.process(data)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        processed = photos.process(data)
        times.append(time.perf_counter() - started)
    workers = settings.PHOTO_WORKERS
    batch = workers * 2
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(photos.process, [data] * batch))
        parallel = time.perf_counter() - started
    return {
        "upload_mb": round(len(data) / 1e6, 1),
        "p50_ms": round(statistics.median(times) * 1000),
        "max_ms": round(max(times) * 1000),
        "renditions": len(processed.renditions),
        "stored_kb": round(sum(len(r.data) for r in processed.renditions) / 1000),
        "widths": sorted({r.width for r in processed.renditions}),
        "workers": workers,
        "photos_per_s": round(batch / parallel, 2),
    }


def main() -> None:
    import django

    django.setup()
    import PIL
    import pillow_heif

    pillow_heif.register_heif_opener()
    results = {"megapixels": WIDTH * HEIGHT / 1e6, "pillow": PIL.__version__}
    results["pillow_heif"] = pillow_heif.__version__
    for label, format in (("jpeg", "JPEG"), ("heic", "HEIF")):
        results[label] = measure(make_photo(format))
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
