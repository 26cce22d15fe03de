"""No script a blogger, organiser or reader wrote ever runs: the XSS corpus, everywhere.

Every payload in tests/data/xss (public lists named in its README, plus our own aimed at
Markdown and URL fields) goes through every field a user controls and is looked for in
every place it shows: the reader's session page, an entry's page, the console, speaker,
home and event pages, the API's `html`, the websocket fragment and the admin. Each page
is parsed (html.parser) and scanned by `problems_in`: no script-capable element, no
event-handler attribute, no URL that is not http, https, mailto or one of our own paths,
and no hx-* attribute but those our templates write.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.test import Client
from django.test.client import ClientHandler
from django.utils import timezone

from accounts.models import ApiToken
from entries import actions, photos, stream
from entries.forms import EntryForm
from entries.markdown import is_safe_url, render_markdown
from entries.models import Entry
from events.models import Event, Series
from sessions.models import Session, Speaker
from tests import photo_files

DATA = Path(__file__).parent / "data" / "xss"
# Our own lists write a line break inside a payload as the two characters \n.
OWN_LISTS = ("markdown.txt", "urls.txt")


def load_corpus() -> list[str]:
    """Every payload once, in file order: the public lists line by line, then our own."""
    payloads: list[str] = []
    for path in sorted((DATA / "seclists").glob("*.txt")):
        payloads += path.read_text(encoding="utf-8").split("\n")
    for name in OWN_LISTS:
        lines = (DATA / name).read_text(encoding="utf-8").split("\n")
        payloads += [line.replace("\\n", "\n") for line in lines]
    return list(dict.fromkeys(payload for payload in payloads if payload.strip()))


CORPUS = load_corpus()
URL_PAYLOADS = [line for line in (DATA / "urls.txt").read_text("utf-8").split("\n") if line]


# ---- The check --------------------------------------------------------------------------

SAFE_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {
    "href", "src", "cite", "action", "formaction", "poster", "data", "xlink:href",
    "background", "lowsrc", "dynsrc", "longdesc", "usemap", "codebase", "classid",
    "manifest", "icon", "archive", "profile", "ping", "srcset", "imagesrcset",
}  # fmt: skip
# Elements that run script, load a document, or re-point the page's URLs.
SCRIPT_CAPABLE = {
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal",
    "template", "style", "bgsound", "layer", "ilayer", "xml", "import", "isindex",
    "animate", "animatemotion", "animatetransform", "set", "handler", "listener",
    "foreignobject", "noscript",
}  # fmt: skip
# The hx-* attributes our templates write, with the values they write. Anything else is
# either user content that slipped through, or a template change this list must learn.
TEMPLATE_HX = {
    "hx-get": r"/[\w/\-]*(\?after=\d+)?",  # the console's question queue polls with ?after
    "hx-post": r"/[\w/\-]*",
    "hx-target": r"this|#[\w\-]+",
    "hx-swap": r"(outerHTML|innerHTML|beforeend|afterbegin|none)( [\w:]+)*",
    "hx-swap-oob": r"true|delete|(outerHTML|beforeend|afterbegin)(:#[\w\-]+)?",
    "hx-confirm": r"[A-Z][A-Za-z ,.?’']*",
    "hx-headers": r'\{"X-CSRFToken": "\w*"\}',
    "hx-disabled-elt": r"this|find button\[type=submit\]",
    "hx-disable": r"",
    "hx-indicator": r"#[\w\-]+",
    "hx-trigger": r"[\w ,\[\]]*",
    "hx-ext": r"[\w\-, ]*",
    "hx-include": r"#[\w\-]+|closest form",
}
OUR_SCRIPTS = ("/static/", "/admin/jsi18n/")
PLAIN_VALUE = re.compile(r"[\w\s#.,:/\-\[\]?]*")
C0_AND_SPACE = "".join(chr(code) for code in range(0x21))


def url_is_safe(value: str) -> bool:
    """http, https or mailto, or a path of our own; judged as a browser reads the value."""
    url = re.sub(r"[\t\n\r]", "", value).strip(C0_AND_SPACE)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    if scheme:
        return scheme.group(1).lower() in SAFE_SCHEMES
    if url == "":
        return True
    return url[0] in "/#?" and not url.startswith(("//", "/\\"))


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open_script: str | None = None
        self.entries = 0
        self.entry_bodies: list[bool] = []  # hx-disable present on each body container
        self.depth = 0
        self.entry_depths: list[int] = []

    def flag(self, message: str) -> None:
        self.problems.append(message)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)
        if tag not in VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            self.depth -= 1
            while self.entry_depths and self.entry_depths[-1] > self.depth:
                self.entry_depths.pop()
        if tag == "script":
            self.open_script = None

    def handle_data(self, data: str) -> None:
        if self.open_script == "json-ld":
            # A data block: JSON, with no "<" that could close it (archive/structured.py).
            try:
                json.loads(data)
            except ValueError:
                self.flag(f"JSON-LD that is not JSON: {data[:80]!r}")
            if "<" in data:
                self.flag(f"JSON-LD with a raw '<': {data[:80]!r}")
        elif self.open_script is not None and data.strip():
            self.flag(f"inline script: {data[:80]!r}")

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        classes = values.get("class", "").split()
        if tag == "article" and "entry" in classes:
            self.entries += 1
            self.entry_depths.append(self.depth + 1)
        if {"entry__body", "quote__body"} & set(classes):
            self.entry_bodies.append("hx-disable" in values)
        if tag in SCRIPT_CAPABLE:
            self.flag(f"<{tag}> element")
        if tag == "script" and values.get("type") == "application/ld+json" and "src" not in values:
            self.open_script = "json-ld"
        elif tag == "script":
            self.open_script = tag
            if not values.get("src", "").startswith(OUR_SCRIPTS):
                self.flag(f"<script> that is not one of ours: {values}")
        if tag == "link" and not (
            values.get("href", "").startswith("/static/")
            or (
                values.get("rel") in {"alternate", "canonical"}
                and re.fullmatch(r"(http://testserver)?/[\w/\-]*", values.get("href", ""))
            )
        ):
            self.flag(f"<link> to something not ours: {values}")
        if tag == "meta" and ("http-equiv" in values or values.get("charset", "utf-8") != "utf-8"):
            self.flag(f"<meta> that acts: {values}")
        for name, value in values.items():
            self._check_attribute(tag, name, value)

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on"):
            self.flag(f"event handler {name}={value!r} on <{tag}>")
        if name.startswith(("hx-", "data-hx-")):
            self._check_hx(tag, name.removeprefix("data-"), value)
        if name == "style" and re.search(
            r"javascript:|expression|behavior|binding|url\(", value, re.I
        ):
            self.flag(f"active style {value!r} on <{tag}>")
        if name in URL_ATTRIBUTES:
            urls = [value]
            if name in {"srcset", "imagesrcset"}:
                urls = [part.strip().split(" ")[0] for part in value.split(",")]
            elif name == "ping":
                urls = value.split()
            for url in urls:
                if not url_is_safe(url):
                    self.flag(f"unsafe URL {name}={value!r} on <{tag}>")

    def _check_hx(self, tag: str, name: str, value: str) -> None:
        if self.entry_depths and (name, value) != ("hx-disable", ""):
            self.flag(f"{name}={value!r} inside an entry")
        if name.startswith("hx-on"):
            self.flag(f"{name}={value!r}: inline htmx handler")
            return
        pattern = TEMPLATE_HX.get(name)
        matched = (
            re.fullmatch(pattern, value) if pattern is not None else PLAIN_VALUE.fullmatch(value)
        )
        if not matched:
            self.flag(f"{name}={value!r} on <{tag}> is not one our templates write")


VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
    "param", "source", "track", "wbr",
}  # fmt: skip


def problems_in(html: str) -> list[str]:
    """What in this HTML could run script, or act for htmx, that our templates did not write."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    if len(scan.entry_bodies) != scan.entries or not all(scan.entry_bodies):
        scan.flag(
            f"{scan.entries} entries but {sum(scan.entry_bodies)} of "
            f"{len(scan.entry_bodies)} bodies sit in an hx-disable container"
        )
    return scan.problems


def assert_safe(html: str, where: str) -> None:
    problems = problems_in(html)
    assert not problems, f"{where}: " + "; ".join(problems[:10])


def get(client: Client, url: str) -> HttpResponse:
    """GET through Django's whole stack with the client's cookies, but without the test
    client's copies of every template context, which cost more than the page itself."""
    path, _, query = url.partition("?")
    environ = client._base_environ(PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD="GET")
    return ClientHandler()(environ)


def assert_page_safe(client: Client, url: str, status: int = 200) -> str:
    response = get(client, url)
    assert response.status_code == status, (url, response.status_code)
    html = response.content.decode()
    assert_safe(html, url)
    return html


def batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- The check itself is tested -----------------------------------------------------------


def test_the_corpus_holds_at_least_500_distinct_payloads_from_public_lists():
    public: set[str] = set()
    for path in (DATA / "seclists").glob("*.txt"):
        public |= {line for line in path.read_text("utf-8").split("\n") if line.strip()}
    assert len(public) >= 500
    assert len(CORPUS) >= len(public) + 100  # plus our own


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" &#x6A;ava&#x09;script&colon;alert(1)">x</a>',
        '<a href="//evil.example/">x</a>',
        '<blockquote cite="javascript:alert(1)">x</blockquote>',
        '<form action="javascript:alert(1)"></form>',
        '<button formaction="vbscript:x">x</button>',
        '<img srcset="https://example.com/a.png 1x, javascript:alert(1) 2x">',
        '<svg><a xlink:href="data:text/html,x">x</a></svg>',
        '<meta http-equiv="refresh" content="0;url=https://example.com">',
        "<iframe></iframe>",
        '<div hx-get="javascript:alert(1)">x</div>',
        "<div hx-vals='js:{a: alert(1)}'>x</div>",
        '<div hx-on:click="x()">x</div>',
        '<script src="https://cdn.example/x.js"></script>',
        "<script>alert(1)</script>",
        '<article class="entry"><div class="entry__body"><p>x</p></div></article>',
        '<article class="entry"><div class="entry__body" hx-disable><b hx-post="/x">x</b></div></article>',
    ],
)
def test_the_check_catches_what_it_must(html):
    assert problems_in(html)


def test_the_check_passes_what_our_templates_write():
    html = (
        '<link rel="stylesheet" href="/static/css/liveblog.css">'
        '<script src="/static/js/live.js" defer></script>'
        '<body hx-headers=\'{"X-CSRFToken": "abc"}\'>'
        '<a href="/events/x/">x</a> <a href="#entry-3">x</a> <a href="mailto:a@example.com">m</a>'
        '<form method="post" action="/entries/3/delete/" hx-post="/entries/3/delete/" '
        'hx-target="#console-entry-3" hx-swap="outerHTML" '
        'hx-confirm="Delete this entry? Readers will see it disappear."></form>'
        '<article class="entry"><div class="entry__body prose" hx-disable>'
        '<p><a href="https://example.com/" rel="nofollow">x</a></p></div></article>'
    )
    assert problems_in(html) == []


# ---- Markdown on its own ------------------------------------------------------------------


def test_every_payload_renders_to_safe_markdown():
    failures = {payload: problems_in(render_markdown(payload)) for payload in CORPUS}
    failures = {payload: found for payload, found in failures.items() if found}
    assert failures == {}


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](//evil.example/)",
        "[x](jav&#x09;ascript:alert(1))",
        "![x](//evil.example/x.png)",
        "[x](relative/page.html)",
        "[x]\n\n[x]: /\\evil.example",
    ],
)
def test_links_and_images_keep_only_absolute_http_https_or_mailto_urls(markdown):
    html = render_markdown(markdown)
    assert "href=" not in html and "src=" not in html, html


# ---- Entries: bodies, quotes, attributions, as the console's form takes them ---------------

BATCH = 25  # payloads per session: 50 entries, all in the console's newest 50


def _post(session: Session, author, **data) -> Entry | None:
    form = EntryForm({"kind": "text", **data}, session=session)
    if not form.is_valid():
        return None
    return form.publish(author=author)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x")


def _session(event: Event, number: int, **fields) -> Session:
    starts = timezone.now() - dt.timedelta(minutes=30)
    defaults = {
        "title": f"Session {number}",
        "slug": f"s-{number}",
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(hours=1),
        "status": Session.Status.LIVE,
    }
    return Session(event=event, **{**defaults, **fields})


def test_entry_bodies_and_attributions_are_safe_wherever_they_show(
    client, settings, event, blogger, superuser
):
    """Each payload is posted as a text entry and as a quote attributed to it (or, past the
    200 characters an attribution holds, to a speaker). The reader page and the API show
    every one; the console, the admin and the push fragment take turns by batch."""
    settings.ENTRIES_PER_PAGE = 2 * BATCH
    admin = Client()
    admin.force_login(superuser)
    named_quotes = 0
    for number, batch in enumerate(batches(CORPUS, BATCH)):
        speaker = Speaker.objects.create(name=f"Speaker {number}", slug=f"speaker-{number}")
        session = _session(event, number)
        session.save()
        session.speakers.add(speaker)
        posted: list[Entry] = []
        for payload in batch:
            posted.append(_post(session, blogger, body=payload))
            quote = _post(session, blogger, kind="quote", body=payload, attribution_name=payload)
            # An attribution holds 200 characters: a longer one is refused with a form error.
            assert (quote is None) == (len(payload.strip()) > 200), payload
            named_quotes += quote is not None
            quote = quote or _post(
                session, blogger, kind="quote", body=payload, attribution_speaker=speaker.pk
            )
            posted.append(quote)
        assert None not in posted

        assert_page_safe(client, session.get_absolute_url())
        assert_page_safe(client, speaker.get_absolute_url())
        api = get(client, f"/api/sessions/{session.pk}/entries?limit=500")
        assert api["Content-Type"] == "application/json; charset=utf-8"
        items = json.loads(api.content)["entries"]
        assert len(items) == len(posted)
        for item in items:
            assert_safe(item["html"], f"API entry {item['id']}")
        if number % 3 == 0:
            assert_page_safe(admin, session.get_console_url())
        elif number % 3 == 1:
            assert_page_safe(admin, f"/admin/entries/entry/?session__id__exact={session.pk}")
            if number == 1:  # the change form escapes every field alike: one text, one quote
                for entry in posted[:2]:
                    assert_page_safe(admin, f"/admin/entries/entry/{entry.pk}/change/")
        else:
            for entry in posted:
                assert_safe(stream.entry_payload(entry, Entry.Action.CREATED)["html"], "push")
    assert named_quotes > len(CORPUS) * 3 / 4


def test_entry_pages_are_safe(client, session, blogger):
    for payload in CORPUS[::5]:
        entry = _post(session, blogger, kind="quote", body=payload, attribution_name=payload[:200])
        assert_page_safe(client, entry.get_absolute_url())


def test_source_urls_are_http_or_https_and_safe_in_cite_and_href(
    client, settings, session, blogger
):
    settings.ENTRIES_PER_PAGE = 1000
    candidates = list(
        dict.fromkeys(
            [*CORPUS, *URL_PAYLOADS]
            + [f"https://example.com/?q={payload}" for payload in CORPUS[::3]]
            + [f"example.com/{payload}" for payload in CORPUS[1::3]]
        )
    )
    accepted = []
    for url in candidates:
        data = {
            "kind": "quote",
            "body": "Quoted",
            "attribution_name": "A writer",
            "source_url": url,
        }
        form = EntryForm(data, session=session)
        if form.is_valid():
            assert is_safe_url(form.cleaned_data["source_url"]), url
            assert form.cleaned_data["source_url"].startswith(("http://", "https://")), url
            accepted.append(form.publish(author=blogger))
    # Most hostile URLs are refused; the ones kept are http(s) URLs with odd paths.
    assert 50 < len(accepted) < len(candidates) / 2
    html = assert_page_safe(client, session.get_absolute_url())
    assert html.count('<blockquote class="quote__body" hx-disable cite="http') == len(accepted)
    for entry in accepted:
        assert_safe(stream.entry_payload(entry, Entry.Action.CREATED)["html"], entry.source_url)
    api_stream = client.get(f"/api/sessions/{session.pk}/entries", {"limit": 500}).json()
    for item in api_stream["entries"]:
        assert_safe(item["html"], item["source_url"])


def test_the_api_takes_the_payloads_and_answers_safe_html(client, session, blogger):
    _, secret = ApiToken.issue(blogger, "corpus")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    for payload in CORPUS[::4]:
        response = client.post(
            f"/api/sessions/{session.pk}/entries",
            {"kind": "quote", "body": payload, "attribution": payload[:200], "source_url": ""},
            content_type="application/json",
            **auth,
        )
        assert response.status_code == 201, response.content
        assert_safe(response.json()["html"], f"API answer to {payload!r}")
        assert response.json()["body"] == payload.strip()


def test_author_names_and_token_names_are_shown_as_text(
    client, settings, session, django_user_model
):
    settings.ENTRIES_PER_PAGE = 1000
    pairs = list(batches(CORPUS, 2))[::2]
    authors = django_user_model.objects.bulk_create(
        django_user_model(
            username=f"author{number}",
            first_name=pair[0][:150],
            last_name=pair[-1][:150],
            password="!",
        )
        for number, pair in enumerate(pairs)
    )
    for author in authors:
        _post(session, author, body="Hello")
    html = assert_page_safe(client, session.get_absolute_url())
    assert html.count('class="entry__author"') == len(authors)
    collector = django_user_model.objects.create_user("collector")
    for payload in CORPUS:
        ApiToken.issue(collector, payload[:100])
    client.force_login(collector)
    assert_page_safe(client, "/accounts/profile/")


def test_search_queries_are_shown_as_text_in_the_admin(client, superuser, entry):
    client.force_login(superuser)
    for payload in CORPUS[::25]:
        assert_page_safe(client, "/admin/entries/entry/?" + urlencode({"q": payload}))


# ---- The programme: events, sessions and speakers, as organisers type them -----------------


def _valid(instance, field: str) -> bool:
    names = [f.name for f in instance._meta.fields if f.name != field]
    try:
        instance.clean_fields(exclude=names)
    except ValidationError:
        return False
    return True


def test_speaker_links_accept_only_http_and_https():
    accepted = [url for url in [*URL_PAYLOADS, *CORPUS] if _valid(Speaker(link=url), "link")]
    assert accepted and all(url.startswith(("http://", "https://")) for url in accepted)
    assert _valid(Speaker(link="https://example.com/me"), "link")
    assert not _valid(Speaker(link="ftp://example.com/me"), "link")


def test_hashtags_accept_one_word_only():
    accepted = [p[:64] for p in CORPUS if _valid(Event(hashtag=p[:64]), "hashtag")]
    assert all(re.fullmatch(r"#?\w+", tag) for tag in accepted)


def test_programme_fields_are_safe_wherever_they_show(client, superuser):
    showcases: list[Session] = []
    linked: list[Speaker] = []
    for number, batch in enumerate(batches(CORPUS, 50)):
        event = Event.objects.create(
            name=batch[0][:200],
            slug=f"event-{number}",
            city=batch[-1][:100],
            description="\n\n".join(batch),
            starts_on=dt.date(2026, 11, 23),
            ends_on=dt.date(2026, 11, 27),
        )
        speakers = Speaker.objects.bulk_create(
            Speaker(
                name=payload[:200],
                slug=f"speaker-{number}-{index}",
                affiliation=payload[::-1][:200],
                link=payload if _valid(Speaker(link=payload), "link") else "",
            )
            for index, payload in enumerate(batch)
        )
        linked += [speaker for speaker in speakers if speaker.link]
        # One session per payload, listed on the event's page; the first, live, holds them all.
        sessions = Session.objects.bulk_create(
            _session(
                event,
                index,
                title=payload[:200],
                room=payload[:100],
                description=payload if index else "\n\n".join(batch),
                status=Session.Status.LIVE if index == 0 else Session.Status.ENDED,
            )
            for index, payload in enumerate(batch)
        )
        Session.speakers.through.objects.bulk_create(
            Session.speakers.through(session=session, speaker=speaker)
            for session, speaker in zip(sessions, speakers, strict=True)
        )
        sessions[0].speakers.add(*speakers)
        showcases.append(sessions[0])
        assert_page_safe(client, event.get_absolute_url())
        assert_page_safe(client, speakers[number % len(speakers)].get_absolute_url())
    assert_page_safe(client, "/")
    for session in showcases:
        assert_page_safe(client, session.get_absolute_url())
    for speaker in linked:
        assert_page_safe(client, speaker.get_absolute_url())
    for url in ("/api/events", "/api/sessions"):
        response = client.get(url)
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert len(response.json()) >= len(showcases)

    # The admin escapes every field the same way: a few pages of each kind stand for all.
    client.force_login(superuser)
    assert_page_safe(client, "/admin/events/event/")
    for page in (1, len(CORPUS) // 100 + 1):
        assert_page_safe(client, f"/admin/talks/session/?p={page}")
        assert_page_safe(client, f"/admin/talks/speaker/?p={page}")
    for session in (showcases[0], showcases[-1]):
        assert_page_safe(client, session.get_console_url())
        assert_page_safe(client, f"/admin/talks/session/{session.pk}/change/")
        assert_page_safe(client, f"/admin/events/event/{session.event_id}/change/")
        speaker = session.speakers.first()
        assert_page_safe(client, f"/admin/talks/speaker/{speaker.pk}/change/")
        # The organisers' own pages show the same fields.
        slug = session.event.slug
        for path in ("", "speakers/", "bloggers/", f"sessions/{session.pk}/"):
            assert_page_safe(client, f"/organise/{slug}/{path}")
        assert_page_safe(client, f"/organise/{slug}/speakers/{speaker.pk}/")
    assert_page_safe(client, "/organise/")
    # A series of every event above: its page lists each city and the live sessions.
    series = Series.objects.create(name=CORPUS[0][:200], slug="corpus", hashtag="#SMW")
    Event.objects.update(series=series)
    assert_page_safe(client, series.get_absolute_url())


def test_tagged_entries_are_safe_on_the_tag_and_series_pages(client, settings, event, blogger):
    """Each payload with a hashtag after it, on the tag page and the series' stream."""
    settings.ENTRIES_PER_PAGE = len(CORPUS) + 10
    series = Series.objects.create(name="Corpus", slug="corpus", hashtag="#SMW")
    event.series = series
    event.save()
    session = _session(event, 0)
    session.save()
    posted = [_post(session, blogger, body=f"{payload} #corpus") for payload in CORPUS]
    tagged = assert_page_safe(client, "/tags/corpus/")
    linked = [e for e in posted if e and 'href="/tags/corpus/"' in e.html]
    assert tagged.count('class="entry ') == len(linked) > len(CORPUS) * 3 / 4
    assert_page_safe(client, series.get_absolute_url())
    assert_page_safe(client, f"{series.get_absolute_url()}?tag=corpus")


def test_citations_photo_captions_and_alt_texts_are_safe_wherever_they_show(
    client, settings, event, blogger, superuser
):
    """Each payload as a citation's author, publication and quoted text, and as a photo's
    caption and alt text; then as an edit, so the history page shows it as an earlier
    version. The reader page, the API, the console and the history show every one."""
    settings.ENTRIES_PER_PAGE = 2 * BATCH
    admin = Client()
    admin.force_login(superuser)
    processed = photos.process(photo_files.photo("PNG"))
    for number, batch in enumerate(batches(CORPUS, BATCH)):
        session = _session(event, 100 + number)
        session.save()
        session.bloggers.add(blogger)
        posted: list[Entry] = []
        for payload in batch:
            short = payload.strip()[:200] or "x"
            citation = _post(
                session,
                blogger,
                kind="citation",
                body=payload,
                attribution_name=short,
                publication=short,
                source_url="https://broadstuff.com/2011/09/thingification",
                published_on="2011-09-20",
            )
            assert citation is not None, payload
            posted.append(citation)
            posted.append(
                actions.post_photo(
                    session=session,
                    author=blogger,
                    processed=processed,
                    alt=payload.strip()[:1000] or "x",
                    caption=payload,
                )
            )
        assert_page_safe(client, session.get_absolute_url())
        items = json.loads(get(client, f"/api/sessions/{session.pk}/entries?limit=500").content)
        for item in items["entries"]:
            assert_safe(item["html"], f"API entry {item['id']}")
        if number % 2 == 0:
            assert_page_safe(admin, session.get_console_url())
        else:
            for entry in posted[:6]:
                actions.edit_entry(entry=entry, body="Replaced")
                assert_page_safe(admin, f"/entries/{entry.pk}/history/")
                assert_safe(stream.entry_payload(entry, Entry.Action.UPDATED)["html"], "push")
