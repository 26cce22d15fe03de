"""Security headers on every page: a strict CSP, no sniffing, a referrer policy, no framing."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/events", "/api/docs"])
def test_pages_carry_a_strict_content_security_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_the_api_docs_load_nothing_from_a_cdn(client):
    html = client.get("/api/docs").content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html


def test_no_page_has_an_inline_script(client, session, entry, blogger):
    import re

    client.force_login(blogger)
    for path in [
        "/",
        session.get_absolute_url(),
        session.get_console_url(),
        entry.get_absolute_url(),
    ]:
        html = client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            # JSON data blocks (the session's JSON-LD) are data, never run.
            data = 'type="application/json"' in tag or 'type="application/ld+json"' in tag
            assert "src=" in tag or data, (path, tag)
        assert " hx-on" not in html and "hx-on:" not in html
