import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from entries import actions, stream
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


def session_url(session) -> str:
    return reverse("entries:session", kwargs={"event": session.event.slug, "slug": session.slug})


def test_home_lists_live_sessions_then_upcoming_then_events(client, session, other_session):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    live, upcoming, events = html.index("Live now"), html.index("Coming up"), html.index("Events")
    assert live < html.index(session.title) < upcoming < html.index(other_session.title) < events
    assert session.event.name in html[events:]


def test_home_shows_a_blogger_their_consoles(client, session, blogger):
    client.force_login(blogger)
    html = client.get("/").content.decode()
    assert "Your sessions to blog" in html
    assert session.get_console_url() in html


def test_event_page_lists_its_sessions_with_their_status(client, session, other_session):
    html = client.get(session.event.get_absolute_url()).content.decode()
    assert session.title in html and other_session.title in html
    assert 'class="status status--live"' in html
    assert 'class="status status--upcoming"' in html
    assert "Europe/London" in html


def test_unknown_event_and_session_are_404(client, session):
    assert client.get("/events/nope/").status_code == 404
    assert client.get(f"/events/{session.event.slug}/nope/").status_code == 404
    assert client.get("/events/nope/like-minds/").status_code == 404


def test_session_page_without_entries_says_so(client, session):
    response = client.get(session_url(session))
    assert response.status_code == 200
    assert "No updates yet." in response.content.decode()


def test_session_page_renders_entries_newest_first_without_javascript(client, session, blogger):
    post_entry(session, blogger, "First entry")
    post_entry(session, blogger, "Second entry")
    html = client.get(session_url(session)).content.decode()
    assert html.index("Second entry") < html.index("First entry")
    assert f'data-last-seq="{session.entries.count()}"' in html
    assert "<noscript" not in html  # nothing hidden behind JavaScript


def test_every_entry_carries_its_id_and_sequence(client, session, blogger):
    entry = post_entry(session, blogger, "Numbered")
    html = client.get(session_url(session)).content.decode()
    assert (
        f'<article id="entry-{entry.pk}" class="entry entry--text" data-seq="{entry.seq}"' in html
    )


def test_times_are_shown_in_the_event_time_zone(client, session, blogger):
    entry = post_entry(session, blogger, "Timed")
    entry.created_at = dt.datetime(2026, 7, 1, 12, 5, tzinfo=dt.UTC)  # 13:05 in London (BST)
    entry.save(update_fields=["created_at"])
    stream.store_fragment(entry)  # rendered when posted, before the time was moved
    html = client.get(session_url(session)).content.decode()
    assert '<time datetime="2026-07-01T13:05:00+01:00">13:05</time>' in html


def test_quotes_are_blockquotes_linking_to_the_speaker(client, session, blogger, euan):
    post_entry(
        session,
        blogger,
        "It's the thingification of social media.",
        kind="quote",
        attribution_speaker=euan,
    )
    html = client.get(session_url(session)).content.decode()
    assert '<blockquote class="quote__body"' in html
    assert f'<a href="{euan.get_absolute_url()}">Euan Semple</a>' in html


def test_quotes_from_other_writers_link_to_their_source(client, session, blogger):
    post_entry(
        session,
        blogger,
        "Customers expect far more rapid action.",
        kind="quote",
        attribution_name="Alan Patrick, Broadstuff",
        source_url="https://broadstuff.com/post",
    )
    html = client.get(session_url(session)).content.decode()
    assert 'cite="https://broadstuff.com/post"' in html
    assert (
        '<a href="https://broadstuff.com/post" rel="nofollow noopener noreferrer ugc">Alan Patrick, Broadstuff</a>'
        in html
    )


def test_deleted_entries_are_not_shown(client, session, blogger):
    kept = post_entry(session, blogger, "Kept")
    gone = post_entry(session, blogger, "Gone")
    actions.hide_entry(entry=gone)
    html = client.get(session_url(session)).content.decode()
    assert f"entry-{kept.pk}" in html and f"entry-{gone.pk}" not in html


def test_older_entries_are_paginated_with_a_load_older_link(client, session, blogger, settings):
    settings.ENTRIES_PER_PAGE = 3
    entries = [post_entry(session, blogger, f"Entry number {i}") for i in range(7)]
    html = client.get(session_url(session)).content.decode()
    assert [f"Entry number {i}" in html for i in range(7)] == [False] * 4 + [True] * 3
    assert f'href="?before={entries[3].created_seq + 1}"' in html

    page2 = client.get(
        session_url(session), {"before": entries[3].created_seq + 1}
    ).content.decode()
    assert [f"Entry number {i}" in page2 for i in range(7)] == [
        False,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert "data-live-session" not in page2  # older pages are static
    page3 = client.get(session_url(session), {"before": entries[1].created_seq}).content.decode()
    assert "Entry number 0" in page3 and "Load older" not in page3


@pytest.mark.parametrize("before", ["abc", "-1", "1e5", "9" * 40])
def test_a_bad_page_cursor_is_a_400(client, session, before):
    response = client.get(session_url(session), {"before": before})
    assert response.status_code == 400


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_session_page_makes_the_same_number_of_queries_whatever_the_entries(
    client, session, blogger, organiser
):
    post_entry(session, blogger, "Warm-up", key_moment=True)
    few = count_queries(client, session_url(session))
    for i in range(40):
        post_entry(
            session,
            blogger,
            f"More {i}",
            key_moment=i % 2 == 0,
            kind="quote",
            attribution_speaker=session.speakers.first(),
        )
    assert count_queries(client, session_url(session)) == few == 4
    client.force_login(organiser)
    assert count_queries(client, session_url(session)) == count_queries(
        client, session_url(session)
    )


def test_home_and_event_pages_make_a_constant_number_of_queries(client, session, event, euan):
    def add_sessions(n, offset):
        for i in range(n):
            s = Session.objects.create(
                event=event,
                title=f"Extra {offset + i}",
                slug=f"extra-{offset + i}",
                starts_at=timezone.now() + dt.timedelta(hours=1),
                ends_at=timezone.now() + dt.timedelta(hours=2),
            )
            s.speakers.add(euan)

    add_sessions(2, 0)
    home, event_page = count_queries(client, "/"), count_queries(client, event.get_absolute_url())
    add_sessions(10, 2)
    assert count_queries(client, "/") == home
    assert count_queries(client, event.get_absolute_url()) == event_page


def test_speaker_page_lists_sessions_and_every_quote(client, session, blogger, euan, other_session):
    other_session.speakers.add(euan)
    post_entry(session, blogger, "Thingification", kind="quote", attribution_speaker=euan)
    post_entry(session, blogger, "Not a quote of Euan")
    html = client.get(euan.get_absolute_url()).content.decode()
    assert session.title in html and other_session.title in html
    assert "Thingification" in html and "Not a quote of Euan" not in html


def test_entry_permalink_page_and_gone_entries(client, entry):
    response = client.get(entry.get_absolute_url())
    assert response.status_code == 200
    assert f'id="entry-{entry.pk}"' in response.content.decode()
    actions.hide_entry(entry=entry)
    assert client.get(entry.get_absolute_url()).status_code == 410


def test_an_unknown_time_zone_is_refused(event):
    from django.core.exceptions import ValidationError

    event.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="not a time zone"):
        event.full_clean()


def test_the_speaker_page_pages_through_every_quote(client, session, blogger, euan, monkeypatch):
    from sessions import views

    monkeypatch.setattr(views, "QUOTES_PER_PAGE", 2)
    for i in range(5):
        post_entry(session, blogger, f"Quote number {i}", kind="quote", attribution_speaker=euan)
    pages = [client.get(euan.get_absolute_url(), {"page": n}).content.decode() for n in (1, 2, 3)]
    assert [[f"Quote number {i}" in page for i in range(5)] for page in pages] == [
        [False, False, False, True, True],
        [False, True, True, False, False],
        [True, False, False, False, False],
    ]
    assert "Page 1 of 3" in pages[0] and 'rel="next"' in pages[0]
    assert client.get(euan.get_absolute_url(), {"page": "x"}).status_code == 200


def test_an_anonymous_reader_gets_no_cookie(client, session):
    response = client.get(session_url(session))
    assert response.cookies == {} or not list(response.cookies.keys())
    assert "csrftoken" not in response.content.decode().lower()


def test_an_entrys_words_in_plain_text_read_as_written_wherever_they_are_shown(
    client, session, blogger
):
    """Markup taken out, entities decoded once: the key-moment strip, the feed's titles,
    Quote this and the page's structured data all escape the words again for where they
    go, so "Q&A" must not reach readers as "Q&amp;A" (Django's striptags kept entities)."""
    import feedparser

    from archive.quoting import quote_blocks

    entry = post_entry(session, blogger, 'Q&A on **<trust>** & "intent"', key_moment=True)
    assert entry.plain_text == "Q&A on <trust> & “intent”"

    page = client.get(session_url(session)).content.decode()
    strip = page.split('id="key-moments"', 1)[1].split("</ol>", 1)[0]
    assert "Q&amp;A on &lt;trust&gt; &amp; “intent”" in strip
    assert "&amp;amp;" not in page and "&amp;lt;" not in page
    ld = page.split('type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "Q\\u0026A on \\u003Ctrust\\u003E" in ld

    feed_url = re.search(r'type="application/atom\+xml"[^>]*href="([^"]+)"', page).group(1)
    feed = feedparser.parse(client.get(feed_url).content)
    assert [item.title for item in feed.entries] == ["Q&A on <trust> & “intent”"]

    blocks = quote_blocks(entry, lambda path: "https://example.org" + path)
    assert "<p>Q&amp;A on &lt;trust&gt; &amp; “intent”</p>" in blocks["html"]
    assert "> Q&A on \\<trust> & “intent”" in blocks["markdown"]
