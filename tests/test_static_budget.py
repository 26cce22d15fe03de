"""The reader page's own JavaScript and CSS stay small: under 60 KB compressed, together."""

from __future__ import annotations

import gzip
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from tests.conftest import post_entry

pytestmark = pytest.mark.django_db

BUDGET_BYTES = 60 * 1024


class _Assets(HTMLParser):
    """The stylesheets and scripts a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif tag == "link" and "stylesheet" in (attributes.get("rel") or "").split():
            self.urls.append(attributes["href"])


def session_page_assets(client, session) -> list[Path]:
    parser = _Assets()
    parser.feed(client.get(session.get_absolute_url()).content.decode())
    files = []
    for url in parser.urls:
        assert url.startswith(settings.STATIC_URL), f"{url} is not one of our static files"
        found = finders.find(url.removeprefix(settings.STATIC_URL).split("?")[0])
        assert found, f"{url} is not in the static files"
        files.append(Path(found))
    return files


def compressed_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def test_the_session_page_loads_its_own_stylesheet_and_live_script(client, session, blogger):
    post_entry(session, blogger, "Something to read")
    names = {
        path.relative_to(settings.BASE_DIR).as_posix()
        for path in session_page_assets(client, session)
    }
    assert {"static/css/liveblog.css", "static/js/live.js"} <= names


def test_the_reader_pages_javascript_and_css_are_under_60_kb_compressed(client, session):
    sizes = {path.name: compressed_size(path) for path in session_page_assets(client, session)}
    total = sum(sizes.values())
    assert total < BUDGET_BYTES, (
        f"{total} bytes gzipped ({sizes}) is over the {BUDGET_BYTES} budget"
    )
