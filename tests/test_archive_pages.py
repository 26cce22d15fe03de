"""The archive's doors: the search page and API, feeds, structured data, the sitemap, the
embed, the archive page and its summary, key quotes, Quote this, and exports."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from html import unescape
from html.parser import HTMLParser

import feedparser
import pytest
from django.utils import timezone

from archive.models import Summary
from entries import actions
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def quote(session, blogger, euan):
    entry = post_entry(
        session,
        blogger,
        "The *thingification* of social media worries me.",
        kind="quote",
        attribution_speaker=euan,
    )
    actions.set_key_moment(entry=entry, value=True)
    return entry


class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict] = []
        self.json_ld: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "meta" and "content" in values:
            self.meta[values.get("property") or values.get("name")] = values["content"]
        if tag == "link":
            self.links.append(values)
        self._in_ld = tag == "script" and values.get("type") == "application/ld+json"

    def handle_data(self, data):
        if self._in_ld:
            self.json_ld.append(data)
            self._in_ld = False


def head(html: str) -> _Head:
    parser = _Head()
    parser.feed(html)
    return parser


# ---- Search ----------------------------------------------------------------------------


def test_the_api_answers_results_with_id_session_and_highlighted_snippet(client, quote, session):
    response = client.get("/api/search", {"q": "thingification"})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["type"] == "quote"
    assert result["id"] == quote.pk
    assert result["session"]["id"] == session.pk
    assert result["session"]["url"] == f"http://testserver{session.get_absolute_url()}"
    assert "<mark>thingification</mark>" in result["snippet"]
    assert result["url"].endswith(quote.get_absolute_url())
    assert response.json()["has_more"] is False


def test_the_api_filters_by_query_parameters(client, quote, session, other_session, outsider):
    post_entry(other_session, outsider, "More thingification in the labs")
    by_session = client.get("/api/search", {"q": "thingification", "session": other_session.pk})
    assert [r["session"]["id"] for r in by_session.json()["results"]] == [other_session.pk]
    by_speaker = client.get("/api/search", {"q": "thingification", "speaker": "euan-semple"})
    assert [r["id"] for r in by_speaker.json()["results"]] == [quote.pk]
    by_type = client.get("/api/search?q=thingification&type=entry")
    assert [r["type"] for r in by_type.json()["results"]] == ["entry"]
    by_event = client.get("/api/search", {"q": "thingification", "event": "smw-london"})
    assert len(by_event.json()["results"]) == 2
    future = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    assert client.get("/api/search", {"q": "thingification", "since": future}).json() == {
        "results": [],
        "has_more": False,
    }


@pytest.mark.parametrize(
    "params, status",
    [
        ({}, 422),
        ({"q": "x" * 201}, 422),
        ({"q": "a", "event": "no-such-event"}, 404),
        ({"q": "a", "session": "0"}, 422),
        ({"q": "a", "since": "2026-13-01"}, 422),
        ({"q": "a", "since": "2026-11-30", "until": "2026-11-01"}, 422),
        ({"q": "a", "type": "photo"}, 422),
        ({"q": " ".join(f"w{n}" for n in range(17))}, 422),
    ],
)
def test_the_api_refuses_bad_search_parameters_with_a_reason(client, db, params, status):
    response = client.get("/api/search", params)
    assert response.status_code == status
    assert response.json()["detail"]


def test_the_search_page_shows_results_with_their_words_marked(client, quote):
    response = client.get("/search/", {"q": "worries"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<mark>worries</mark>" in html
    assert quote.get_absolute_url() in html
    assert "Euan Semple" in html


def test_the_search_page_says_when_nothing_is_found_and_keeps_filters(client, quote, session):
    html = client.get("/search/", {"q": "nothingatall", "session": session.pk}).content.decode()
    assert "Nothing found" in html
    assert "Within the session" in html


def test_the_search_page_refuses_bad_input_with_a_400(client, db):
    assert client.get("/search/", {"q": "x" * 201}).status_code == 400
    assert client.get("/search/", {"q": "a", "since": "nope"}).status_code == 400


# ---- Feeds -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["session", "event", "speaker"])
def test_each_feed_is_valid_atom_and_its_page_links_to_it(client, quote, session, euan, which):
    hidden = post_entry(session, quote.author, "Hidden thingification", kind="text")
    actions.hide_entry(entry=hidden)
    page = {
        "session": session.get_absolute_url(),
        "event": session.event.get_absolute_url(),
        "speaker": euan.get_absolute_url(),
    }[which]
    links = [
        link
        for link in head(client.get(page).content.decode()).links
        if link.get("rel") == "alternate"
    ]
    assert len(links) == 1 and links[0]["type"] == "application/atom+xml"
    response = client.get(links[0]["href"])
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    (item,) = feed.entries
    assert item.title == "Euan Semple: “The thingification of social media worries me.”"
    assert item.link == f"http://testserver{quote.get_absolute_url()}"
    assert "<em>thingification</em>" in item.summary
    assert item.author == "Ben Blogger"


def test_a_series_and_a_tag_have_feeds_their_pages_link_to(client, session, blogger):
    from events.models import Series

    series = Series.objects.create(name="Social Media Week 2026", slug="smw-2026")
    session.event.series = series
    session.event.save()
    post_entry(session, blogger, "Euan on #Thingification at #SMWLDN")
    post_entry(session, blogger, "No tag here")
    hidden = post_entry(session, blogger, "Hidden #smwldn")
    actions.hide_entry(entry=hidden)
    for page, title, count in [
        (series.get_absolute_url(), "Social Media Week 2026", 2),
        ("/tags/smwldn/", "#smwldn", 1),
    ]:
        links = [
            link
            for link in head(client.get(page).content.decode()).links
            if link.get("rel") == "alternate"
        ]
        assert len(links) == 1 and links[0]["type"] == "application/atom+xml"
        response = client.get(links[0]["href"])
        assert response["Content-Type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.content)
        assert not feed.bozo, feed.get("bozo_exception")
        assert feed.feed.title == title
        assert feed.feed.link == f"http://testserver{page}"
        assert len(feed.entries) == count
        assert "Hidden" not in response.content.decode()
    assert feed.entries[0].title == "Euan on #Thingification at #SMWLDN"


def test_a_feed_for_something_missing_is_a_404(client, db):
    assert client.get("/feeds/speakers/nobody/").status_code == 404
    assert client.get("/feeds/series/nobody/").status_code == 404
    assert client.get("/feeds/tags/not-a-tag/").status_code == 404


# ---- Structured data, link previews, sitemap ---------------------------------------------


def test_the_session_page_carries_live_blog_posting_json_ld(client, quote, session):
    parsed = head(client.get(session.get_absolute_url()).content.decode())
    (raw,) = parsed.json_ld
    data = json.loads(raw)
    assert data["@type"] == "LiveBlogPosting"
    assert data["coverageStartTime"] == session.starts_at.isoformat()
    assert "coverageEndTime" not in data
    assert data["about"]["@type"] == "Event"
    assert data["about"]["superEvent"]["name"] == "Social Media Week London"
    (update,) = data["liveBlogUpdate"]
    assert update["headline"].startswith("Euan Semple:")
    assert update["articleBody"] == "The thingification of social media worries me."
    assert update["datePublished"] == quote.created_at.isoformat()
    assert update["url"] == f"http://testserver{quote.get_absolute_url()}"


def test_an_ended_session_says_when_its_coverage_ended(client, quote, session, blogger):
    actions.set_session_status(session=session, status="ended", by=blogger)
    session.refresh_from_db()
    parsed = head(client.get(session.get_absolute_url()).content.decode())
    data = json.loads(parsed.json_ld[0])
    assert data["coverageEndTime"] == session.ended_at.isoformat()


def test_json_ld_cannot_be_closed_by_what_a_blogger_writes(client, session, blogger):
    post_entry(session, blogger, "</script><script>alert(1)</script> & more")
    html = client.get(session.get_absolute_url()).content.decode()
    (raw,) = head(html).json_ld
    assert "<" not in raw
    assert "alert(1)" in json.loads(raw)["liveBlogUpdate"][0]["articleBody"]


def test_session_and_entry_pages_have_canonical_urls_and_link_previews(client, quote, session):
    parsed = head(client.get(session.get_absolute_url() + "?before=99").content.decode())
    canonical = [link["href"] for link in parsed.links if link.get("rel") == "canonical"]
    assert canonical == [f"http://testserver{session.get_absolute_url()}"]
    assert (
        parsed.meta["og:title"]
        == "Like Minds: the Social Business Immersive · Social Media Week London"
    )
    assert parsed.meta["twitter:card"] == "summary"
    entry_page = head(client.get(quote.get_absolute_url()).content.decode())
    assert entry_page.meta["og:description"] == "The thingification of social media worries me."
    assert entry_page.meta["description"] == "The thingification of social media worries me."
    assert entry_page.meta["og:title"] == "Euan Semple in Like Minds: the Social Business Immersive"
    assert [link["href"] for link in entry_page.links if link.get("rel") == "canonical"] == [
        f"http://testserver{quote.get_absolute_url()}"
    ]


def test_the_sitemap_lists_events_sessions_and_speakers(client, session, other_session, euan):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    locations = set(re.findall(r"<loc>(.*?)</loc>", response.content.decode()))
    assert locations == {
        f"http://testserver{path}"
        for path in (
            session.event.get_absolute_url(),
            session.get_absolute_url(),
            other_session.get_absolute_url(),
            euan.get_absolute_url(),
        )
    }


# ---- The embed -------------------------------------------------------------------------


def test_the_embed_may_be_framed_anywhere_and_runs_only_our_scripts(client, quote, session):
    url = f"/embed/{session.event.slug}/{session.slug}/"
    response = client.get(url)
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors *" in policy
    assert "script-src 'self'" in policy
    html = response.content.decode()
    assert f'data-live-session="{session.pk}"' in html
    assert f'data-last-seq="{session.last_seq}"' in html
    assert f'id="entry-{quote.pk}"' in html
    assert "/static/js/live.js" in html


def test_other_pages_still_refuse_to_be_framed(client, session):
    response = client.get(session.get_absolute_url())
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_session_page_offers_the_embed_snippet_to_copy(client, session):
    html = client.get(session.get_absolute_url()).content.decode()
    snippet = re.search(r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert "&amp;lt;" not in snippet  # escaped once: it reads as the code to paste
    assert (
        f'&lt;iframe src="http://testserver/embed/{session.event.slug}/{session.slug}/"' in snippet
    )


# ---- The archive page, summary, key quotes --------------------------------------------------


def test_a_live_session_has_no_archive_page_yet(client, session):
    response = client.get(f"/events/{session.event.slug}/{session.slug}/archive/")
    assert response.status_code == 302
    assert response["Location"] == session.get_absolute_url()


def test_an_ended_session_reads_as_an_archive_in_either_order(client, quote, session, blogger):
    first = session.entries.order_by("created_seq").first()
    later = post_entry(session, blogger, "Closing remarks")
    actions.set_session_status(session=session, status="ended", by=blogger)
    Summary.objects.create(session=session, body="Euan on **things**.", written_by=blogger)
    url = f"/events/{session.event.slug}/{session.slug}/archive/"
    html = client.get(url).content.decode()
    assert "<strong>things</strong>" in html
    assert "Key moments" in html
    assert html.index(f'id="entry-{later.pk}"') < html.index(f'id="entry-{first.pk}"')
    written = client.get(url + "?order=written").content.decode()
    assert written.index(f'id="entry-{first.pk}"') < written.index(f'id="entry-{later.pk}"')


@pytest.mark.parametrize(
    "role, allowed",
    [("anonymous", False), ("outsider", False), ("blogger", True), ("organiser", True)],
)
def test_only_the_sessions_bloggers_and_organisers_write_its_summary(
    client, session, blogger, outsider, organiser, role, allowed
):
    actions.set_session_status(session=session, status="ended", by=blogger)
    user = {"blogger": blogger, "outsider": outsider, "organiser": organiser}.get(role)
    if user:
        client.force_login(user)
    url = f"/events/{session.event.slug}/{session.slug}/summary/"
    response = client.post(url, {"body": "What it came to."})
    if allowed:
        assert response.status_code == 302
        summary = Summary.objects.get(session=session)
        assert summary.written_by == user and summary.html.strip() == "<p>What it came to.</p>"
    else:
        assert response.status_code in (302, 403)
        assert not Summary.objects.exists()
        if role == "anonymous":
            assert "/accounts/login/" in response["Location"]


def test_a_summary_of_nothing_is_refused(client, session, blogger):
    client.force_login(blogger)
    response = client.post(f"/events/{session.event.slug}/{session.slug}/summary/", {"body": ""})
    assert response.status_code == 422
    assert not Summary.objects.exists()


def test_key_quotes_give_each_quote_its_speaker_and_minute(client, session, blogger, euan):
    entry = post_entry(session, blogger, "Trust is earned.", kind="quote", attribution_speaker=euan)
    type(entry).objects.filter(pk=entry.pk).update(
        created_at=session.starts_at + dt.timedelta(minutes=17, seconds=40)
    )
    post_entry(session, blogger, "Not a quote")
    html = client.get(f"/events/{session.event.slug}/{session.slug}/quotes/").content.decode()
    assert "Minute 17" in html
    assert "Trust is earned." in html
    assert "Not a quote" not in html


# ---- Quote this ------------------------------------------------------------------------


def test_every_entry_offers_quote_this_and_its_page_has_ready_blockquotes(client, quote, session):
    page = client.get(session.get_absolute_url()).content.decode()
    assert f'href="{quote.get_absolute_url()}#quote"' in page
    html = client.get(quote.get_absolute_url()).content.decode()
    boxes = dict(
        re.findall(r'<textarea id="quote-(html|markdown)"[^>]*>(.*?)</textarea>', html, re.S)
    )
    as_html, as_markdown = unescape(boxes["html"]), unescape(boxes["markdown"])
    permalink = f"http://testserver{quote.get_absolute_url()}"
    assert as_html.startswith(f'<blockquote cite="{permalink}">')
    assert "<p>The thingification of social media worries me.</p>" in as_html
    assert "— Euan Semple, in <a href=" in as_html and "Social Media Week London" in as_html
    assert as_markdown.startswith(
        "> The thingification of social media worries me.\n>\n> — Euan Semple"
    )
    assert f"([source]({permalink}))" in as_markdown
    assert "GMT" in as_markdown or "BST" in as_markdown


def test_a_text_entry_is_quoted_as_its_blogger_wrote_it(client, entry):
    html = client.get(entry.get_absolute_url()).content.decode()
    assert "— Ben Blogger, in" in html


# ---- Exports from the organiser's pages ---------------------------------------------------


def test_organisers_download_the_archive_in_each_format(client, organiser, quote, session):
    client.force_login(organiser)
    assert "Export the archive" in client.get(session.event.get_absolute_url()).content.decode()
    assert client.get(f"/exports/{session.event.slug}/").status_code == 200
    data = client.get(f"/exports/{session.event.slug}/json/").json()
    assert data["version"] == 1 and data["event"]["slug"] == session.event.slug
    markdown = client.get(f"/exports/{session.event.slug}/markdown/")
    assert markdown["Content-Disposition"] == 'attachment; filename="smw-london-archive.md"'
    assert b"thingification" in markdown.content
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/exports/{session.event.slug}/html/").content)
    )
    assert "smw-london/index.html" in archive.namelist()
    assert client.get(f"/exports/{session.event.slug}/pdf/").status_code == 404


@pytest.mark.parametrize("role", ["anonymous", "blogger", "outsider"])
def test_nobody_else_exports(client, session, blogger, outsider, role, django_user_model):
    if role != "anonymous":
        client.force_login({"blogger": blogger, "outsider": outsider}[role])
    assert "Export the archive" not in client.get(session.event.get_absolute_url()).content.decode()
    for path in ("", "json/", "markdown/", "html/"):
        response = client.get(f"/exports/{session.event.slug}/{path}")
        assert response.status_code in (302, 403), (path, response.status_code)
