"""Rate limits answer 429 with Retry-After, and store nothing past the limit."""

from __future__ import annotations

import json

import pytest

from accounts.models import ApiToken
from entries.models import Entry

pytestmark = pytest.mark.django_db


def test_login_attempts_are_limited_per_username_and_address(client, blogger, settings):
    settings.RATE_LIMIT_LOGIN = 3
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "ben", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "ben", "password": "wrong"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many login attempts" in response.content.decode()
    # Even the right password waits: that is the point.
    from tests.conftest import PASSWORD

    response = client.post("/accounts/login/", {"username": "ben", "password": PASSWORD})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    # Another username from the same address is not locked out by it.
    assert (
        client.post("/accounts/login/", {"username": "oscar", "password": "x"}).status_code == 200
    )


def test_login_attempts_are_limited_per_address(client, settings):
    settings.RATE_LIMIT_LOGIN_PER_ADDRESS = 2
    for name in ["a", "b"]:
        assert (
            client.post("/accounts/login/", {"username": name, "password": "x"}).status_code == 200
        )
    assert client.post("/accounts/login/", {"username": "c", "password": "x"}).status_code == 429


def test_posting_is_limited_per_blogger_in_the_console_and_the_api(
    client, session, blogger, settings
):
    settings.RATE_LIMIT_POSTS = 2
    client.force_login(blogger)
    url = session.get_console_url() + "entries/"
    for i in range(2):
        response = client.post(url, {"kind": "text", "body": f"ok {i}"}, HTTP_X_LIVEBLOG_OUTBOX="1")
        assert response.status_code == 201
    response = client.post(url, {"kind": "text", "body": "too many"}, HTTP_X_LIVEBLOG_OUTBOX="1")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    # It says what was limited, not "too many attempts" as if a login were locked.
    assert response.content.decode().startswith(
        "You are posting faster than 2 entries a minute: this one was not posted."
    )
    response = client.post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "via api"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN="x",
    )
    assert response.status_code in {403, 429}  # the session door needs CSRF first
    _, secret = ApiToken.issue(blogger, "script")
    response = client.post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "via api"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 429
    assert response.json()["detail"].startswith("You are posting faster than 2 entries a minute")
    assert "Retry-After" in response
    assert Entry.objects.count() == 2


def test_api_calls_are_limited_per_token(client, session, blogger, settings):
    settings.RATE_LIMIT_API = 3
    _, secret = ApiToken.issue(blogger, "script")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    codes = [
        client.post(
            f"/api/sessions/{session.pk}/entries",
            json.dumps({"body": f"n{i}"}),
            content_type="application/json",
            **headers,
        ).status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    _, other = ApiToken.issue(blogger, "another")
    response = client.post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "fresh"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {other}",
    )
    assert response.status_code == 201


def test_a_post_is_stored_while_the_cache_holding_the_limits_is_down(
    client, session, blogger, monkeypatch, caplog
):
    # Redis restarting under the workers: the limit cannot be counted, the post still goes.
    from django.core.cache import cache

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "add", unreachable)
    _, secret = ApiToken.issue(blogger, "script")
    response = client.post(
        f"/api/sessions/{session.pk}/entries",
        json.dumps({"body": "Posted while Redis restarts"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201
    assert Entry.objects.get().body == "Posted while Redis restarts"
    assert "not counted: the cache is unreachable" in caplog.text
