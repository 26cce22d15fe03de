"""Search: one interface over PostgreSQL full-text search and SQLite FTS5.

CI runs this file on both databases; EXPECTED names the hits each query must give on
fixed data, so the same queries giving the same hits on both is what passing twice means.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from archive import search
from entries import actions
from events.models import Event
from sessions.models import Session, Speaker
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(session, other_session, blogger, outsider, euan):
    """A few entries, quotes, sessions and speakers, each named for the EXPECTED table."""
    alan = Speaker.objects.create(
        name="Alan Patrick", slug="alan-patrick", affiliation="Broadstuff"
    )
    other_session.speakers.add(alan)
    other_session.description = "Hands-on workshops about social labs."
    other_session.save()
    berlin = Event.objects.create(
        name="Social Media Week Berlin",
        slug="smw-berlin",
        city="Berlin",
        starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 27),
    )
    berlin_talk = Session.objects.create(
        event=berlin,
        title="Город и соцсети",
        slug="gorod",
        starts_at=session.starts_at,
        ends_at=session.ends_at,
    )
    berlin_talk.bloggers.add(blogger)
    items = {
        "opening": post_entry(session, blogger, "Scott Gould opens the **Like Minds** workshop."),
        "thing": post_entry(
            session,
            blogger,
            "The thingification of social media is what worries me.",
            kind="quote",
            attribution_speaker=euan,
        ),
        "realtime": post_entry(session, blogger, "Real-time coverage beats the summary."),
        "broadstuff": post_entry(
            session,
            blogger,
            "Hype cycles come round again, workshops included.",
            kind="quote",
            attribution_name="Alan Patrick",
            source_url="https://broadstuff.com/",
        ),
        "labs": post_entry(other_session, outsider, "Labs are where the workshopping happens."),
        "russian": post_entry(berlin_talk, blogger, "Городские блоги растут быстро."),
        "greek": post_entry(berlin_talk, blogger, "Η κοινότητα μιλάει για ιστολόγια."),
        "japanese": post_entry(berlin_talk, blogger, "東京 の 会議 は 素晴らしい"),
        "hindi": post_entry(berlin_talk, blogger, "सम्मेलन में हिन्दी ब्लॉग"),
        "arabic": post_entry(berlin_talk, blogger, "المدونة المباشرة للمؤتمر"),
    }
    items["session:like-minds"] = session
    items["session:labs"] = other_session
    items["session:gorod"] = berlin_talk
    items["speaker:euan"] = euan
    items["speaker:alan"] = alan
    return items


def names(hits, corpus) -> set[str]:
    by_key = {}
    for name, obj in corpus.items():
        kind = name.split(":")[0] if ":" in name else "entry"
        by_key[kind, obj.pk] = name
    return {
        by_key[("entry" if hit.type in ("entry", "quote") else hit.type), hit.id] for hit in hits
    }


def find(text: str, **filters):
    hits, _ = search.search(search.query_for(text, **filters), limit=50)
    return hits


EXPECTED = {
    # Stemming: every form of "workshop" finds every other.
    "workshop": {"opening", "broadstuff", "labs", "session:labs"},
    "workshops": {"opening", "broadstuff", "labs", "session:labs"},
    "Workshopping": {"opening", "broadstuff", "labs", "session:labs"},
    "thingification": {"thing"},
    "worries": {"thing"},
    "worry": {"thing"},
    # Every word must match; a phrase keeps its order.
    "social media": {"thing"},
    '"media social"': set(),
    '"social media"': {"thing"},
    "real time": {"realtime"},
    "real-time": {"realtime"},
    # Sessions, speakers and attributions are searched too.
    "Broadstuff": {"speaker:alan"},
    "Alan Patrick": {"speaker:alan", "broadstuff"},
    "immersive": {"session:like-minds"},
    "immersion": {"session:like-minds"},
    "Like Minds": {"opening", "session:like-minds"},
    "Semple": {"speaker:euan"},
    # Any script: words are found whole, whatever the alphabet.
    "блоги": {"russian"},
    "Город": {"session:gorod"},
    "ιστολόγια": {"greek"},
    "会議": {"japanese"},
    "हिन्दी": {"hindi"},
    "सम्मेलन ब्लॉग": {"hindi"},
    "المدونة": {"arabic"},
    # Stop words are words like any other, on both.
    "the": {"opening", "thing", "realtime", "labs", "session:like-minds"},
    # Operators a reader might type mean nothing special.
    "labs OR hype": set(),
    "-labs": {"labs", "session:labs"},
    "lab*": {"labs", "session:labs"},
    "coverage!": {"realtime"},
}


@pytest.mark.parametrize("text", list(EXPECTED))
def test_each_query_finds_the_same_hits_on_either_database(corpus, text):
    assert names(find(text), corpus) == EXPECTED[text], connection.vendor


def test_results_carry_a_snippet_with_the_matching_words_highlighted(corpus):
    (hit,) = find("thingification")
    assert hit.type == "quote"
    assert hit.session == corpus["thing"].session
    assert "<mark>thingification</mark>" in hit.snippet
    (hit,) = find("workshop", types=["entry"], session=corpus["session:like-minds"])
    assert "<mark>workshop</mark>" in hit.snippet


def test_snippets_escape_what_bloggers_wrote_and_drop_markdown_marks(session, blogger):
    post_entry(session, blogger, "**Bold** <script>alert(1)</script> claims about pipelines")
    (hit,) = find("pipelines")
    # Escaped (SQLite), or dropped as a tag by ts_headline (PostgreSQL): never markup.
    assert "<script>" not in hit.snippet
    assert hit.snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert "**" not in hit.snippet
    assert "<mark>pipelines</mark>" in hit.snippet


def test_an_edited_entry_is_found_by_its_new_words_and_not_its_old_ones_at_once(corpus):
    entry = corpus["realtime"]
    actions.edit_entry(entry=entry, body="Liveblogging beats the recap.")
    assert names(find("liveblogging"), corpus) == {"realtime"}
    assert names(find("coverage"), corpus) == set()


def test_a_hidden_entry_is_never_found_and_a_restored_one_is_again(corpus):
    entry = corpus["thing"]
    actions.hide_entry(entry=entry)
    assert find("thingification") == []
    assert find("thingification", types=["quote"], speaker=corpus["speaker:euan"]) == []
    actions.restore_entry(entry=entry)
    assert names(find("thingification"), corpus) == {"thing"}


def test_a_renamed_session_or_speaker_is_found_by_its_new_name(corpus):
    labs = corpus["session:labs"]
    labs.title = "Experiments in hackathons"
    labs.save()
    assert names(find("hackathon"), corpus) == {"session:labs"}
    euan = corpus["speaker:euan"]
    euan.name = "Euan Sempleton"
    euan.save()
    assert names(find("Sempleton"), corpus) == {"speaker:euan"}
    assert find("Semple") == []


def test_filters_narrow_by_event_session_speaker_kind_and_date(corpus):
    like_minds, labs = corpus["session:like-minds"], corpus["session:labs"]
    assert names(find("workshop", session=labs), corpus) == {"labs", "session:labs"}
    assert names(find("workshop", event=Event.objects.get(slug="smw-berlin")), corpus) == set()
    assert names(find("workshops", speaker=corpus["speaker:alan"]), corpus) == {
        "labs",
        "session:labs",
    }
    assert names(find("workshop", types=["quote"]), corpus) == {"broadstuff"}
    assert names(find("workshop", types=["session", "speaker"]), corpus) == {"session:labs"}
    today = timezone.now().date()
    assert names(find("workshop", session=like_minds, since=today, until=today), corpus) == {
        "opening",
        "broadstuff",
    }
    assert find("workshop", until=today - dt.timedelta(days=2)) == []


def test_quotes_by_a_speaker_are_found_through_the_speaker_filter(corpus):
    hits = find("social", speaker=corpus["speaker:euan"], types=["quote"])
    assert names(hits, corpus) == {"thing"}


def test_results_come_best_first_and_page(session, blogger):
    post_entry(session, blogger, "keynote")
    post_entry(session, blogger, "keynote keynote keynote about the keynote")
    for number in range(5):
        post_entry(session, blogger, f"A long entry number {number} mentioning the keynote once.")
    hits, more = search.search(search.query_for("keynote"), limit=3)
    assert more
    assert hits[0].object.body.startswith("keynote keynote")
    rest, more = search.search(search.query_for("keynote"), limit=10, offset=3)
    assert not more
    assert len(rest) == 4
    assert not {hit.id for hit in hits} & {hit.id for hit in rest}


@pytest.mark.parametrize(
    "text, error",
    [
        (" ".join(f"word{n}" for n in range(17)), "at most 16 words"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_a_query_too_long_is_refused_with_a_reason(text, error):
    with pytest.raises(search.SearchError, match=error):
        search.query_for(text)


def test_a_query_of_no_words_finds_nothing(corpus):
    assert find("") == []
    assert find("  !!! ?? ") == []
    assert find('""') == []


def test_the_search_index_survives_a_rebuilt_entries_table_on_sqlite(corpus):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite keeps its index with triggers that a table rebuild drops")
    with connection.cursor() as cursor:
        for source in search.SOURCES:
            for name in search._sqlite_triggers(source):
                cursor.execute(f"DROP TRIGGER {name}")
    post_entry(corpus["session:like-minds"], corpus["opening"].author, "Unindexed gossip")
    search.ensure_index()
    assert len(find("gossip")) == 1
    assert names(find("thingification"), corpus) == {"thing"}
