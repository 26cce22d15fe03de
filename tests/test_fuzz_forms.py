"""The console's forms and htmx endpoints fuzzed with hypothesis: never a server error, and
the database holds only what valid requests made.

Bodies are built as raw bytes, so they can carry what a browser never sends: invalid UTF-8,
lone surrogates, NUL bytes, right-to-left overrides, integers past 2^63, fields that do
not exist (author, session, seq...), and the wrong Content-Type.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from accounts.models import ApiToken
from entries.markdown import is_safe_url, render_markdown
from entries.models import Entry
from sessions.models import Session
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
FIELDS = ["kind", "body", "attribution_speaker", "attribution_name", "source_url", "key_moment"]
# Fields a form must never take from the request.
EXTRA = ["author", "session", "seq", "created_seq", "html", "deleted_at", "idempotency_key", "id"]
NASTY = [
    "",
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",
    "\u200f\u202b",
    "\ufeff",
    "9" * 30,
    str(2**63),
    str(2**64),
    "-1",
    "1e309",
    "NaN",
    "quote",
    "text",
    "on",
    "https://example.com/",
    "javascript:alert(1)",
    "> " * 10_000 + "deep",
    "[" * 10_000,
    "*" * 10_000,
    "<" * 5_000,
]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "application/json",
    "text/plain",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "",
]


def encoded(value) -> str:
    if isinstance(value, bytes):
        return quote_plus(value)
    # surrogatepass: a lone surrogate goes out as the invalid UTF-8 a broken client sends.
    return quote_plus(value.encode("utf-8", "surrogatepass"))


values = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=200),
    st.binary(max_size=200),
    st.sampled_from(NASTY),
    st.integers().map(str),
)
bodies = st.lists(st.tuples(st.sampled_from(FIELDS + EXTRA), values), max_size=10).map(
    lambda pairs: "&".join(f"{encoded(k)}={encoded(v)}" for k, v in pairs).encode()
)
garbage = st.binary(max_size=400)


OUTBOX = {"HTTP_X_LIVEBLOG_OUTBOX": "1"}


def create_url(session: Session) -> str:
    return reverse("entries:create", kwargs={"event": session.event.slug, "slug": session.slug})


def assert_every_entry_is_valid(session: Session, author) -> None:
    """What only the form's rules could have let in."""
    from django.conf import settings as django_settings

    for entry in Entry.objects.all():
        assert entry.session_id == session.pk and entry.author_id == author.pk
        assert entry.body == entry.body.strip() and entry.body
        assert "\x00" not in entry.body + entry.attribution_name + entry.source_url
        assert len(entry.body) <= django_settings.ENTRY_BODY_MAX_LENGTH
        assert entry.html == render_markdown(entry.body)
        assert entry.kind in Entry.Kind.values
        if entry.kind == Entry.Kind.TEXT:
            assert (entry.attribution_speaker_id, entry.attribution_name, entry.source_url) == (
                None,
                "",
                "",
            )
        else:
            assert bool(entry.attribution_speaker_id) != bool(entry.attribution_name)
        assert entry.source_url == "" or is_safe_url(entry.source_url)
        assert entry.seq <= Session.objects.get(pk=session.pk).last_seq


@pytest.mark.parametrize("outbox", [True, False])
def test_posting_anything_never_breaks_the_console(client, session, blogger, outbox):
    client.force_login(blogger)
    url = create_url(session)
    headers = {"HTTP_X_LIVEBLOG_OUTBOX": "1"} if outbox else {}
    created = 0

    @FUZZ
    @given(body=st.one_of(bodies, garbage), content_type=st.sampled_from(CONTENT_TYPES))
    @example(
        body=b"kind=text&body=" + quote_plus("> " * 2_400).encode(), content_type=CONTENT_TYPES[0]
    )
    @example(body=b"kind=text&body=%ff%fe%ed%a0%80", content_type=CONTENT_TYPES[0])
    @example(
        body=b"kind=quote&body=x&attribution_speaker=99999999999999999999",
        content_type=CONTENT_TYPES[0],
    )
    @example(
        body=b"kind=text&body=ok&author=1&session=2&seq=9&html=%3Cscript%3E",
        content_type=CONTENT_TYPES[0],
    )
    def post(body: bytes, content_type: str) -> None:
        nonlocal created
        before = Entry.objects.count()
        response = client.generic("POST", url, body, content_type=content_type, **headers)
        assert response.status_code in {201, 302, 400, 413, 422}, response.status_code
        added = Entry.objects.count() - before
        assert added == (1 if response.status_code in {201, 302} else 0)
        created += added

    post()
    assert Entry.objects.count() == created
    assert_every_entry_is_valid(session, blogger)


def test_editing_with_anything_never_breaks_or_changes_more_than_asked(client, session, blogger):
    entry = post_entry(session, blogger, "Original")
    client.force_login(blogger)
    url = reverse("entries:edit", args=[entry.pk])

    @FUZZ
    @given(body=st.one_of(bodies, garbage), content_type=st.sampled_from(CONTENT_TYPES))
    def edit(body: bytes, content_type: str) -> None:
        before = Entry.objects.get(pk=entry.pk)
        response = client.generic(
            "POST", url, body, content_type=content_type, HTTP_HX_REQUEST="true"
        )
        assert response.status_code in {200, 400, 413, 422}, response.status_code
        after = Entry.objects.get(pk=entry.pk)
        if response.status_code != 200:
            assert (after.body, after.seq) == (before.body, before.seq)
        assert (after.author_id, after.session_id, after.created_seq) == (
            blogger.pk,
            session.pk,
            entry.created_seq,
        )

    edit()
    assert Entry.objects.count() == 1
    assert_every_entry_is_valid(session, blogger)


@pytest.mark.parametrize(
    ("name", "field", "good"),
    [
        ("entries:key_moment", "key_moment", {"on", "off"}),
        ("entries:status", "status", set(Session.Status.values)),
    ],
)
def test_key_moment_and_status_take_only_their_values(client, session, blogger, name, field, good):
    entry = post_entry(session, blogger, "x")
    client.force_login(blogger)
    if name == "entries:status":
        url = reverse(name, kwargs={"event": session.event.slug, "slug": session.slug})
    else:
        url = reverse(name, args=[entry.pk])

    @FUZZ
    @given(value=st.one_of(values, st.sampled_from(sorted(good))))
    def send(value) -> None:
        last_seq = Session.objects.get(pk=session.pk).last_seq
        response = client.generic(
            "POST",
            url,
            f"{field}={encoded(value)}",
            content_type=CONTENT_TYPES[0],
            HTTP_HX_REQUEST="true",
        )
        sent = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if name == "entries:status" and sent == "upcoming":
            # A session that has started never goes back to upcoming: refused, with why.
            assert response.status_code == 409, response.status_code
            assert Session.objects.get(pk=session.pk).last_seq == last_seq
        elif sent in good:
            assert response.status_code == 200
        else:
            assert response.status_code == 400, (value, response.status_code)
            assert Session.objects.get(pk=session.pk).last_seq == last_seq

    send()


def test_token_names_take_anything_and_answer_with_a_form_error(client, blogger):
    client.force_login(blogger)

    @FUZZ
    @given(body=st.one_of(bodies, garbage, values.map(lambda v: f"name={encoded(v)}".encode())))
    def create(body: bytes) -> None:
        before = ApiToken.objects.count()
        response = client.generic("POST", "/accounts/profile/", body, content_type=CONTENT_TYPES[0])
        assert response.status_code in {200, 400, 422}, response.status_code
        assert ApiToken.objects.count() == before + (response.status_code == 200)

    create()
    for token in ApiToken.objects.all():
        assert token.name == token.name.strip() and 0 < len(token.name) <= 100
        assert "\x00" not in token.name


def test_the_reader_page_cursor_takes_only_whole_numbers(client, session, blogger):
    post_entry(session, blogger, "x")

    @FUZZ
    @given(
        before=st.one_of(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
            st.sampled_from(["²", "١٢", "0", "9" * 18, "9" * 19, "-1", " 1"]),
        )
    )
    def read(before: str) -> None:
        response = client.get(session.get_absolute_url(), {"before": before})
        expected = 200 if re.fullmatch(r"[0-9]{1,18}", before) else 400
        assert response.status_code == expected, (before, response.status_code)

    read()


def test_a_double_submit_with_one_key_posts_once(client, session, blogger):
    client.force_login(blogger)
    data = {"kind": "text", "body": "Once"}
    first = client.post(create_url(session), data, **OUTBOX, HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post(create_url(session), data, **OUTBOX, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert Entry.objects.count() == 1
    clash = client.post(
        create_url(session),
        {"kind": "text", "body": "Other"},
        **OUTBOX,
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert clash.status_code == 409 and Entry.objects.count() == 1


def test_extra_fields_in_a_form_are_never_applied(
    client, session, other_session, blogger, outsider
):
    client.force_login(blogger)
    sneaky = {
        "kind": "text",
        "body": "Plain",
        "author": outsider.pk,
        "session": other_session.pk,
        "seq": 2**62,
        "created_seq": 7,
        "html": "<script>alert(1)</script>",
        "deleted_at": "2020-01-01T00:00:00Z",
        "idempotency_key": "stolen",
    }
    assert client.post(create_url(session), sneaky, **OUTBOX).status_code == 201
    entry = Entry.objects.get()
    assert (entry.author, entry.session, entry.seq, entry.html, entry.deleted_at) == (
        blogger,
        session,
        1,
        "<p>Plain</p>",
        None,
    )
    assert entry.idempotency_key == ""
    response = client.post(
        reverse("entries:edit", args=[entry.pk]),
        {**sneaky, "body": "Edited"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    entry.refresh_from_db()
    assert (entry.author, entry.session, entry.body, entry.created_seq, entry.seq) == (
        blogger,
        session,
        "Edited",
        1,
        2,
    )


def test_ten_thousand_deep_markdown_renders_quickly_and_shallowly(
    client, settings, session, blogger
):
    settings.ENTRY_BODY_MAX_LENGTH = 40_000
    client.force_login(blogger)
    for body in [
        "> " * 10_000 + "deep",
        "- " * 10_000 + "deep",
        "[" * 10_000 + "x" + "](https://e.com)" * 100,
        "*" * 10_000 + "x" + "*" * 10_000,
        "<div>" * 7_000,
        "1. " * 10_000 + "deep",
    ]:
        response = client.post(create_url(session), {"kind": "text", "body": body}, **OUTBOX)
        assert response.status_code == 201
        html = Entry.objects.latest("created_seq").html
        for tag in ("blockquote", "ul", "ol", "em", "strong"):
            assert html.count(f"<{tag}>") <= 25
