"""Full-text search over entries, quotes, sessions and speakers: one interface, a backend per database.

PostgreSQL: a generated tsvector column on each searched table (the database computes it on
every INSERT and UPDATE, whoever writes), GIN-indexed, read with ts_rank and ts_headline.
SQLite: an FTS5 table per searched table, kept by triggers (insert, update, delete) that
the database runs itself. Both are made by archive/migrations/0002_search_index.py, only on
their own vendor, so no stream action has to remember the index: an edit is found by its
new words at once, and a hidden entry is left out by every query.

Both stem English (PostgreSQL's Snowball stemmer with no stop words, FTS5's porter on
unicode61 tokens), so "workshop" finds "workshops"; words in any script are found whole.
The same query gives the same hits on both on the same data (tests/test_search.py runs on
each); ranks and snippets are each database's own. docs/archive.md has the details.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from entries.models import Entry
from sessions.models import Session, Speaker

# The text each searched table offers, by column; the PostgreSQL config and FTS5 tables.
CONFIG = "liveblog_search"
ENTRY_TABLE = Entry._meta.db_table
SESSION_TABLE = Session._meta.db_table
SPEAKER_TABLE = Speaker._meta.db_table
SESSION_SPEAKERS = Session.speakers.through._meta.db_table
SOURCES = {
    "entry": (ENTRY_TABLE, ("body", "attribution_name")),
    "session": (SESSION_TABLE, ("title", "description")),
    "speaker": (SPEAKER_TABLE, ("name", "affiliation")),
}
TYPES = ("entry", "quote", "session", "speaker")

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16
MAX_OFFSET = 1000
# Highlight markers: private-use characters, replaced by <mark> after escaping.
MARK, UNMARK = "\ue000", "\ue001"
SNIPPET_WORDS = 24

# A word is a run of letters, digits and combining marks in any script (Devanagari's vowel
# signs are marks, not letters); "quoted words" are a phrase.
PHRASE = re.compile(r'"([^"]*)"')


def _words(text: str) -> list[str]:
    word, words = [], []
    for char in text:
        if char.isalnum() or unicodedata.category(char).startswith("M"):
            word.append(char)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


class SearchError(ValueError):
    """A query or filter that cannot be searched; the message says why."""


@dataclass(frozen=True)
class Query:
    """What the reader asked for: words (all must match), phrases, and filters."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    event_id: int | None = None
    session_id: int | None = None
    speaker_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    types: tuple[str, ...] = TYPES

    @property
    def is_empty(self) -> bool:
        return not self.words and not self.phrases


def parse_terms(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The words and "quoted phrases" of a query, lower-cased, at most MAX_TERMS in all."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchError(f"A search is at most {MAX_QUERY_LENGTH} characters.")
    phrases: list[tuple[str, ...]] = []
    loose: list[str] = _words(PHRASE.sub(" ", text))
    for quoted in PHRASE.findall(text):
        words = tuple(word.lower() for word in _words(quoted))
        if len(words) > 1:
            phrases.append(words)
        else:
            loose += words
    words = tuple(dict.fromkeys(word.lower() for word in loose))
    if len(words) + sum(len(phrase) for phrase in phrases) > MAX_TERMS:
        raise SearchError(f"A search is at most {MAX_TERMS} words.")
    return words, tuple(dict.fromkeys(phrases))


def query_for(
    text: str,
    *,
    event: Any = None,
    session: Any = None,
    speaker: Any = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    types: Iterable[str] | None = None,
) -> Query:
    """A Query from a reader's words and filters (objects or ids); dates are whole days."""
    words, phrases = parse_terms(text)
    chosen = tuple(types) if types else TYPES
    unknown = set(chosen) - set(TYPES)
    if unknown:
        raise SearchError(f"type must be one of: {', '.join(TYPES)}.")
    if since and until and until < since:
        raise SearchError("The end date is before the start date.")
    return Query(
        words=words,
        phrases=phrases,
        event_id=getattr(event, "pk", event),
        session_id=getattr(session, "pk", session),
        speaker_id=getattr(speaker, "pk", speaker),
        since=_day_start(since) if since else None,
        until=_day_start(until + dt.timedelta(days=1)) if until else None,
        types=chosen,
    )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


@dataclass
class Hit:
    """One result: what it is, its id, its rank in its own table, and its snippet."""

    type: str
    id: int
    rank: float
    snippet: str = ""
    object: Any = field(default=None, repr=False)

    @property
    def session(self) -> Session | None:
        if self.type in ("entry", "quote"):
            return self.object.session
        if self.type == "session":
            return self.object
        return None


def search(query: Query, *, limit: int = 20, offset: int = 0) -> tuple[list[Hit], bool]:
    """The best `limit` hits after `offset`, and whether there are more."""
    if query.is_empty:
        return [], False
    if offset > MAX_OFFSET:
        raise SearchError(f"offset is at most {MAX_OFFSET}.")
    backend = get_backend()
    wanted = offset + limit + 1
    hits: list[Hit] = []
    for source in ("entry", "session", "speaker"):
        kinds = _kinds(query, source)
        if kinds:
            hits += backend.find(source, query, kinds, wanted)
    # Each backend's ranks: higher is better. Ties: newest object first, then by id.
    hits.sort(key=lambda hit: (-hit.rank, -hit.id))
    page, more = hits[offset : offset + limit], len(hits) > offset + limit
    _load(page)
    for source in ("entry", "session", "speaker"):
        ids = [hit.id for hit in page if _source(hit.type) == source]
        if ids:
            snippets = backend.snippets(source, query, ids)
            for hit in page:
                if _source(hit.type) == source:
                    hit.snippet = render_snippet(snippets.get(hit.id, ""))
    return page, more


def _source(kind: str) -> str:
    return "entry" if kind in ("entry", "quote") else kind


def _kinds(query: Query, source: str) -> tuple[str, ...]:
    if source == "entry":
        return tuple(
            kind
            for kind, wanted in ((Entry.Kind.TEXT, "entry"), (Entry.Kind.QUOTE, "quote"))
            if wanted in query.types
        )
    if source not in query.types:
        return ()
    # A speaker has no date: a search within dates finds entries and sessions only.
    if source == "speaker" and (query.since or query.until):
        return ()
    return (source,)


# What a result shows of each object, and no more: loading is most of a search's time.
_ENTRY_FIELDS = (
    "id", "kind", "created_at", "session_id", "attribution_name", "attribution_speaker_id",
    "attribution_speaker__name", "attribution_speaker__slug",
    *(f"session__{name}" for name in ("id", "title", "slug", "event_id")),
    *(f"session__event__{name}" for name in ("id", "slug", "name", "time_zone")),
)  # fmt: skip
_SESSION_FIELDS = ("id", "title", "slug", "starts_at", "event__id", "event__slug", "event__name")


def _load(hits: list[Hit]) -> None:
    by_source: dict[str, list[int]] = {}
    for hit in hits:
        by_source.setdefault(_source(hit.type), []).append(hit.id)
    objects: dict[tuple[str, int], Any] = {}
    if by_source.get("entry"):
        sessions: dict[int, Session] = {}
        entries = (
            Entry.objects.filter(pk__in=by_source["entry"])
            .select_related("attribution_speaker", "session__event")
            .only(*_ENTRY_FIELDS)
            .order_by()
        )
        for entry in entries:
            # One session object per session, so its URLs are worked out once.
            entry.session = sessions.setdefault(entry.session_id, entry.session)
            objects["entry", entry.pk] = entry
    if by_source.get("session"):
        found = Session.objects.filter(pk__in=by_source["session"]).select_related("event")
        for session in found.only(*_SESSION_FIELDS).order_by():
            objects["session", session.pk] = session
    if by_source.get("speaker"):
        found = Speaker.objects.filter(pk__in=by_source["speaker"]).only("id", "name", "slug")
        for speaker in found.order_by():
            objects["speaker", speaker.pk] = speaker
    for hit in hits:
        hit.object = objects.get((_source(hit.type), hit.id))
        if hit.object is not None and hit.type in ("entry", "quote"):
            hit.type = _hit_type("entry", hit.object.kind)
    hits[:] = [hit for hit in hits if hit.object is not None]


# Markdown's own marks, dropped from snippets: emphasis, code, headings, quotes, links.
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_MARKS = re.compile(r"(\*\*|__|`+|^#+\s|^>\s?|~~)", re.MULTILINE)


def render_snippet(raw: str) -> str:
    """A backend's snippet (with MARK/UNMARK around matches) as safe HTML with <mark>."""
    text = _MARKDOWN_LINK.sub(r"\1", raw)
    text = _MARKDOWN_MARKS.sub("", text)
    text = " ".join(text.split())
    escaped = html.escape(text, quote=False)
    escaped = escaped.replace(MARK, "<mark>").replace(UNMARK, "</mark>")
    # A snippet cut inside a highlight closes it.
    if escaped.count("<mark>") > escaped.count("</mark>"):
        escaped += "</mark>"
    return escaped


# ---- Filters, shared by both backends (plain SQL on Django's tables) --------------------


def _filters(source: str, alias: str, query: Query, kinds: tuple[str, ...]):
    where: list[str] = []
    params: list[Any] = []
    if source == "entry":
        where.append(f"{alias}.deleted_at IS NULL")
        if len(kinds) == 1:
            where.append(f"{alias}.kind = %s")
            params.append(kinds[0])
        if query.session_id is not None:
            where.append(f"{alias}.session_id = %s")
            params.append(query.session_id)
        if query.event_id is not None:
            where.append(
                f"{alias}.session_id IN (SELECT id FROM {SESSION_TABLE} WHERE event_id = %s)"
            )
            params.append(query.event_id)
        if query.speaker_id is not None:
            where.append(
                f"({alias}.attribution_speaker_id = %s OR {alias}.session_id IN "
                f"(SELECT session_id FROM {SESSION_SPEAKERS} WHERE speaker_id = %s))"
            )
            params += [query.speaker_id, query.speaker_id]
        if query.since is not None:
            where.append(f"{alias}.created_at >= %s")
            params.append(query.since)
        if query.until is not None:
            where.append(f"{alias}.created_at < %s")
            params.append(query.until)
    elif source == "session":
        if query.session_id is not None:
            where.append(f"{alias}.id = %s")
            params.append(query.session_id)
        if query.event_id is not None:
            where.append(f"{alias}.event_id = %s")
            params.append(query.event_id)
        if query.speaker_id is not None:
            where.append(
                f"{alias}.id IN (SELECT session_id FROM {SESSION_SPEAKERS} WHERE speaker_id = %s)"
            )
            params.append(query.speaker_id)
        if query.since is not None:
            where.append(f"{alias}.starts_at >= %s")
            params.append(query.since)
        if query.until is not None:
            where.append(f"{alias}.starts_at < %s")
            params.append(query.until)
    else:
        if query.speaker_id is not None:
            where.append(f"{alias}.id = %s")
            params.append(query.speaker_id)
        if query.session_id is not None:
            where.append(
                f"{alias}.id IN (SELECT speaker_id FROM {SESSION_SPEAKERS} WHERE session_id = %s)"
            )
            params.append(query.session_id)
        if query.event_id is not None:
            where.append(
                f"{alias}.id IN (SELECT ss.speaker_id FROM {SESSION_SPEAKERS} ss JOIN "
                f"{SESSION_TABLE} s ON s.id = ss.session_id WHERE s.event_id = %s)"
            )
            params.append(query.event_id)
    return where, params


def _type_column(source: str, alias: str) -> str:
    return f"{alias}.kind" if source == "entry" else f"'{source}'"


def _hit_type(source: str, value: str) -> str:
    if source != "entry":
        return source
    return "quote" if value == Entry.Kind.QUOTE else "entry"


# ---- PostgreSQL ------------------------------------------------------------------------


class PostgresBackend:
    """Generated tsvector columns (search_vector) with GIN indexes; ts_rank; ts_headline."""

    def _tsquery(self, query: Query) -> tuple[str, list[str]]:
        parts, params = [], []
        if query.words:
            parts.append(f"plainto_tsquery('{CONFIG}', %s)")
            params.append(" ".join(query.words))
        for phrase in query.phrases:
            parts.append(f"phraseto_tsquery('{CONFIG}', %s)")
            params.append(" ".join(phrase))
        return " && ".join(parts), params

    def find(self, source: str, query: Query, kinds: tuple[str, ...], limit: int) -> list[Hit]:
        table, _ = SOURCES[source]
        tsquery, params = self._tsquery(query)
        where, filter_params = _filters(source, "t", query, kinds)
        sql = (
            f"SELECT t.id, {_type_column(source, 't')}, ts_rank(t.search_vector, q.q) AS rank "
            f"FROM {table} t, (SELECT {tsquery} AS q) q "
            f"WHERE t.search_vector @@ q.q {''.join(' AND ' + w for w in where)} "
            "ORDER BY rank DESC, t.id DESC LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *filter_params, limit])
            return [Hit(_hit_type(source, kind), pk, rank) for pk, kind, rank in cursor.fetchall()]

    def snippets(self, source: str, query: Query, ids: list[int]) -> dict[int, str]:
        table, columns = SOURCES[source]
        tsquery, params = self._tsquery(query)
        text = " || ' ' || ".join(f"coalesce(t.{column}, '')" for column in columns)
        options = (
            f"StartSel={MARK}, StopSel={UNMARK}, MaxWords={SNIPPET_WORDS}, MinWords=12, "
            'ShortWord=1, MaxFragments=2, FragmentDelimiter=" … "'
        )
        sql = (
            f"SELECT t.id, ts_headline('{CONFIG}', {text}, {tsquery}, %s) "
            f"FROM {table} t WHERE t.id = ANY(%s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, options, ids])
            return dict(cursor.fetchall())


# ---- SQLite ----------------------------------------------------------------------------


def fts_table(source: str) -> str:
    return f"archive_{source}_fts"


class SQLiteBackend:
    """FTS5 tables (porter over unicode61) whose rowid is the object's id, kept by triggers."""

    def _match(self, query: Query) -> str:
        # Each word and phrase as an FTS5 string: no operator a reader types means anything.
        terms = [f'"{word}"' for word in query.words]
        terms += ['"' + " ".join(phrase) + '"' for phrase in query.phrases]
        return " ".join(terms)

    def find(self, source: str, query: Query, kinds: tuple[str, ...], limit: int) -> list[Hit]:
        table, _ = SOURCES[source]
        fts = fts_table(source)
        where, filter_params = _filters(source, "t", query, kinds)
        # The index holds visible entries only: with no filter, it answers on its own,
        # and the hit's kind comes with the entry when it is loaded.
        unfiltered = where == ["t.deleted_at IS NULL"] or (source != "entry" and not where)
        if unfiltered:
            sql = (
                f"SELECT rowid, '{source}', -bm25({fts}) AS rank FROM {fts} "
                f"WHERE {fts} MATCH %s ORDER BY rank DESC, rowid DESC LIMIT %s"
            )
        else:
            # bm25 is lower for better matches; negated, higher is better as on PostgreSQL.
            sql = (
                f"SELECT t.id, {_type_column(source, 't')}, -bm25({fts}) AS rank "
                f"FROM {fts} JOIN {table} t ON t.id = {fts}.rowid "
                f"WHERE {fts} MATCH %s {''.join(' AND ' + w for w in where)} "
                "ORDER BY rank DESC, t.id DESC LIMIT %s"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self._match(query), *filter_params, limit])
            return [Hit(_hit_type(source, kind), pk, rank) for pk, kind, rank in cursor.fetchall()]

    def snippets(self, source: str, query: Query, ids: list[int]) -> dict[int, str]:
        fts = fts_table(source)
        placeholders = ", ".join(["%s"] * len(ids))
        sql = (
            f"SELECT rowid, snippet({fts}, -1, %s, %s, '…', {SNIPPET_WORDS}) FROM {fts} "
            f"WHERE {fts} MATCH %s AND rowid IN ({placeholders})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [MARK, UNMARK, self._match(query), *ids])
            return dict(cursor.fetchall())


def get_backend() -> PostgresBackend | SQLiteBackend:
    if connection.vendor == "postgresql":
        return PostgresBackend()
    if connection.vendor == "sqlite":
        return SQLiteBackend()
    raise SearchError(f"Search needs PostgreSQL or SQLite, not {connection.vendor}.")


# ---- The index itself: made by the migration, checked after every migrate ---------------


def postgres_index_sql() -> list[str]:
    """The text search config, the generated columns and their GIN indexes."""
    statements = [
        # English stemming with no stop words, as FTS5's porter: "the" is a word like any.
        "CREATE TEXT SEARCH DICTIONARY liveblog_stem (TEMPLATE = snowball, Language = english)",
        f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = english)",
        f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR asciiword, asciihword, "
        "hword_asciipart, word, hword, hword_part WITH liveblog_stem",
    ]
    for source, (table, columns) in SOURCES.items():
        text = " || ' ' || ".join(f"coalesce({column}, '')" for column in columns)
        statements.append(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            f"(to_tsvector('{CONFIG}'::regconfig, {text})) STORED"
        )
        partial = " WHERE deleted_at IS NULL" if source == "entry" else ""
        statements.append(
            f"CREATE INDEX archive_{source}_search ON {table} USING GIN (search_vector){partial}"
        )
    return statements


def postgres_unindex_sql() -> list[str]:
    statements = [
        f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector" for table, _ in SOURCES.values()
    ]
    return [
        *statements,
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}",
        "DROP TEXT SEARCH DICTIONARY IF EXISTS liveblog_stem",
    ]


def _sqlite_triggers(source: str) -> dict[str, str]:
    table, columns = SOURCES[source]
    fts = fts_table(source)
    names = ", ".join(columns)
    values = ", ".join(f"coalesce(new.{column}, '')" for column in columns)
    # Only visible entries are indexed: hiding takes one out, restoring puts it back.
    visible = " WHERE new.deleted_at IS NULL" if source == "entry" else ""
    insert = f"INSERT INTO {fts}(rowid, {names}) SELECT new.id, {values}{visible};"
    remove = f"DELETE FROM {fts} WHERE rowid = old.id;"
    return {
        f"{fts}_insert": f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {table} "
        f"BEGIN {insert} END",
        f"{fts}_update": f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE ON {table} "
        f"BEGIN {remove} {insert} END",
        f"{fts}_delete": f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {table} "
        f"BEGIN {remove} END",
    }


def sqlite_index_sql() -> list[str]:
    statements = []
    for source, (_, columns) in SOURCES.items():
        statements.append(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts_table(source)} USING fts5("
            f"{', '.join(columns)}, tokenize = 'porter unicode61 remove_diacritics 0')"
        )
        statements += _sqlite_triggers(source).values()
    return statements


def sqlite_unindex_sql() -> list[str]:
    statements = []
    for source in SOURCES:
        statements += [f"DROP TRIGGER IF EXISTS {name}" for name in _sqlite_triggers(source)]
        statements.append(f"DROP TABLE IF EXISTS {fts_table(source)}")
    return statements


def sqlite_refill_sql(source: str) -> list[str]:
    table, columns = SOURCES[source]
    fts = fts_table(source)
    values = ", ".join(f"coalesce({column}, '')" for column in columns)
    visible = " WHERE deleted_at IS NULL" if source == "entry" else ""
    return [
        f"DELETE FROM {fts}",
        f"INSERT INTO {fts}(rowid, {', '.join(columns)}) SELECT id, {values} FROM {table}{visible}",
    ]


def ensure_index(using: str = "default", **kwargs: Any) -> None:
    """After migrate on SQLite: put back triggers a rebuilt table lost, and refill its index."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if fts_table("entry") not in present:
            return  # not migrated this far yet
        for source in SOURCES:
            missing = [sql for name, sql in _sqlite_triggers(source).items() if name not in present]
            if missing:
                for sql in missing:
                    cursor.execute(sql)
                for sql in sqlite_refill_sql(source):
                    cursor.execute(sql)
