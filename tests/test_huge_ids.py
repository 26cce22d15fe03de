"""Whole numbers no database column holds, in every path and query parameter: never a 5xx.

An id or cursor a client writes may be past 2^63 (a bigint's limit) or 2^64, negative,
thousands of digits long, or written in digits that are not ASCII ("²", "٣"). Each door
that reads one is found rather than listed: every URL pattern of liveblog.urls (resolved
here, so a new one is walked the day it is added), every API operation and parameter in
/api/openapi.json, and every admin change list's page, ordering, filter and date-hierarchy
parameters. Each answers a 4xx (JSON with a `detail` under /api/) or a page, and nothing
stored changes. The file runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver

from accounts.models import ApiToken
from entries.models import Entry
from liveblog.ids import MAX_ID, parse_id
from sessions.models import Session
from tests import openapi_walk
from tests.conftest import post_entry

pytestmark = pytest.mark.django_db

WEIRD = [
    "9223372036854775807",  # the largest bigint: valid, but no such row
    "9223372036854775808",  # 2^63
    "18446744073709551616",  # 2^64
    "99999999999999999999",
    "-1",
    "-9223372036854775809",
    "1" * 5000,  # past Python's 4,300-digit limit for int()
    "²",  # a digit to str.isdigit(), not to int()
    "٣",  # an Arabic-Indic three: int() reads it as 3
]
CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
ID_CONVERTERS = {"int", "id", "path"}
# Where a number is a date's part, the calendar's own edges too.
DATE_EDGES = ["0", "1", "9999", "13", "32"]


def url_patterns(patterns=None, prefix: str = "") -> list[str]:
    """Every route of liveblog.urls as one string, e.g. 'entries/<int:pk>/edit/'."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            routes += url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            routes.append(prefix + str(pattern.pattern))
    return routes


def is_id(converter: str | None, name: str) -> bool:
    return converter in ID_CONVERTERS or name in {"id", "pk"} or name.endswith("_id")


@pytest.fixture
def world(session, other_session, blogger, organiser, euan, django_user_model):
    """Something of everything, and who to ask as."""
    mine = post_entry(session, blogger, "Mine")
    post_entry(other_session, other_session.bloggers.get(), "Theirs")
    ApiToken.issue(blogger, "phone")
    root = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    return {"session": session, "euan": euan, "entry": mine, "blogger": blogger, "root": root}


def snapshot() -> tuple:
    return (
        sorted(Entry.objects.values_list("pk", "body", "seq", "key_moment", "deleted_at")),
        sorted(Session.objects.values_list("pk", "status", "last_seq")),
        sorted(ApiToken.objects.values_list("pk", "revoked_at")),
    )


def clients(world) -> dict[str, Client]:
    anonymous = Client(raise_request_exception=False)
    blogger = Client(raise_request_exception=False)
    blogger.force_login(world["blogger"])
    root = Client(raise_request_exception=False)
    root.force_login(world["root"])
    return {"anonymous": anonymous, "blogger": blogger, "superuser": root}


def concrete_urls(route: str, world) -> list[str]:
    """The route with each id replaced by each weird number, and each slug by a real one."""
    parts = list(CONVERTER.finditer(route))
    if route.startswith("^") or "(?P" in route or not any(is_id(*p.groups()) for p in parts):
        return []
    session, event = world["session"], world["session"].event
    names = {p["name"] for p in parts}
    # `slug` beside `event` is the session's; alone it is an event's or a speaker's.
    slugs = (
        {"event": [event.slug], "slug": [session.slug]}
        if "event" in names
        else {"slug": [event.slug, world["euan"].slug]}
    )
    urls = []
    for weird in WEIRD:
        for variant in range(max(len(values) for values in slugs.values())):

            def fill(match, weird=weird, variant=variant):
                if is_id(match["converter"], match["name"]):
                    return quote(weird)
                values = slugs[match["name"]]
                return values[min(variant, len(values) - 1)]

            urls.append("/" + CONVERTER.sub(fill, route))
    return urls


def assert_a_clear_answer(response, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code)
    if response.wsgi_request.path.startswith("/api/") and response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), where
        assert response.json()["detail"], where


def test_every_url_pattern_with_an_id_takes_any_number(world):
    routes = url_patterns()
    with_ids = [route for route in routes if concrete_urls(route, world)]
    # The walk finds the doors: the entry pages and actions, tokens, the API and the admin.
    assert "entries/<int:pk>/edit/" in " ".join(with_ids).replace("<id:pk>", "<int:pk>")
    assert any(route.startswith("admin/") for route in with_ids)
    assert any(route.startswith("api/") for route in with_ids)
    before = snapshot()
    for name, client in clients(world).items():
        for route in with_ids:
            for url in concrete_urls(route, world):
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    assert_a_clear_answer(response, f"{name} {method.upper()} {url[:80]}")
    assert snapshot() == before


def test_every_api_parameter_takes_any_number(client, world):
    schema = openapi_walk.load(client)
    real = {"session_id": world["session"].pk, "entry_id": world["entry"].pk}
    _, secret = ApiToken.issue(world["blogger"], "walk")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    before = snapshot()
    walked = set()
    for path, method, operation in openapi_walk.operations(schema):
        parameters = operation.get("parameters", [])
        body = json.dumps({"body": "Never stored"}) if "requestBody" in operation else None
        for parameter in parameters:
            walked.add((path, parameter["name"]))
            for weird in WEIRD:
                url, query = path, {}
                for other in parameters:
                    value = weird if other is parameter else real.get(other["name"])
                    if other["in"] == "path":
                        url = url.replace("{" + other["name"] + "}", quote(str(value)))
                    elif value is not None:
                        query[other["name"]] = value
                if query:
                    url += "?" + urlencode(query)
                response = client.generic(
                    method, url, body or "", content_type="application/json", **headers
                )
                assert_a_clear_answer(response, f"{method} {url[:80]}")
    assert {("/api/sessions", "event"), ("/api/sessions/{session_id}/entries", "after")} <= walked
    assert {("/api/sessions/{session_id}/entries", "limit")} <= walked
    assert snapshot() == before


def test_the_event_filter_reads_only_ascii_ids_within_range(client, world):
    event = world["session"].event
    assert len(client.get("/api/sessions", {"event": str(event.pk)}).json()) == 2
    # "١" is an Arabic-Indic one: int() reads it as 1, but it is no id a client was given.
    arabic = "".join(chr(0x660 + int(digit)) for digit in str(event.pk))
    assert client.get("/api/sessions", {"event": arabic}).json() == []
    for weird in WEIRD[:4]:
        response = client.get("/api/sessions", {"event": weird})
        assert (response.status_code, response.json()) == (200, [])


def changelist_doors(root) -> list[tuple[str, str, dict[str, str]]]:
    """(change list URL, parameter, the rest of the query) for each number it takes."""
    doors = []
    for model, model_admin in admin.site._registry.items():
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        request = RequestFactory().get(url)
        request.user = root
        changelist = model_admin.get_changelist_instance(request)
        doors += [(url, "p", {}), (url, "o", {})]
        for spec in changelist.filter_specs:
            doors += [(url, name, {}) for name in spec.expected_parameters()]
        if field := model_admin.date_hierarchy:
            year, month = f"{field}__year", f"{field}__month"
            doors += [
                (url, year, {}),
                (url, month, {year: "2026"}),
                (url, f"{field}__day", {year: "2026", month: "11"}),
                (url, month, {year: "9999"}),  # where December 9999 ends
                (url, f"{field}__day", {year: "9999", month: "12"}),
            ]
    return doors


def test_every_admin_change_list_parameter_takes_any_number(world):
    root = clients(world)["superuser"]
    doors = changelist_doors(world["root"])
    assert any(name.endswith("__year") for _, name, _ in doors)
    assert any(name.endswith("__id__exact") for _, name, _ in doors)
    for url, name, rest in doors:
        edges = DATE_EDGES if re.search(r"__(year|month|day)$", name) else []
        for weird in WEIRD + edges:
            full = f"{url}?{urlencode({**rest, name: weird})}"
            response = root.get(full, follow=True)
            assert_a_clear_answer(response, f"GET {full[:100]}")


@pytest.mark.parametrize(
    ("path", "param"),
    [("SESSION", "before"), ("/speakers/euan-semple/", "page")],
)
def test_the_reader_pages_take_any_number_in_their_query(client, world, path, param):
    if path == "SESSION":
        path = world["session"].get_absolute_url()
    for weird in WEIRD:
        response = client.get(path, {param: weird})
        assert response.status_code in {200, 400}, (path, param, weird[:20], response)


async def open_and_close(path: str) -> dict | None:
    """What the socket at `path` is closed with once accepted, or None if refused."""
    from channels.testing import WebsocketCommunicator

    from liveblog.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    closed = await communicator.receive_output(timeout=3) if connected else None
    await communicator.disconnect()
    return closed


ROUTED = [weird for weird in WEIRD if weird.isascii() and weird.isdigit() and len(weird) < 30]


@pytest.mark.django_db(transaction=True)
async def test_the_reader_socket_takes_any_number_in_its_path_and_cursor(session):
    from realtime.consumers import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND

    for weird in ROUTED:
        closed = await open_and_close(f"/ws/sessions/{weird}/")
        assert closed == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}, weird
    for weird in WEIRD:
        closed = await open_and_close(f"/ws/sessions/{session.pk}/?after={quote(weird)}")
        assert closed == {"type": "websocket.close", "code": CLOSE_BAD_REQUEST}, weird[:30]


@pytest.mark.django_db(transaction=True)
async def test_a_socket_path_no_route_matches_is_refused_not_raised():
    # Refused before accepting: the server answers the handshake with 403.
    for weird in sorted(set(WEIRD) - set(ROUTED)):
        assert await open_and_close(f"/ws/sessions/{quote(weird)}/") is None, weird[:30]


def test_parse_id_reads_ascii_digits_within_a_bigint_only():
    assert parse_id("0") == 0 and parse_id("42") == 42 and parse_id("007") == 7
    assert parse_id(str(MAX_ID)) == MAX_ID and parse_id("0" * 30 + "1") == 1
    for weird in [*WEIRD[1:], "", " 1", "1 ", "+1", "1.0", "0x10", None]:
        assert parse_id(weird) is None, weird
