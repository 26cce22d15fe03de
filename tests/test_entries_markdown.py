from html.parser import HTMLParser

import pytest

from entries.markdown import is_safe_url, render_markdown


def urls_in(html: str) -> list[str]:
    found: list[str] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(value or "" for name, value in attrs if name in {"href", "src", "cite"})

    Collector().feed(html)
    return found


def test_it_renders_everyday_markdown():
    html = render_markdown(
        "**Bold** and *italic*, a [link](https://example.com/post) and\n\n- a\n- list"
    )
    assert "<strong>Bold</strong>" in html
    assert "<em>italic</em>" in html
    assert (
        '<a href="https://example.com/post" rel="nofollow noopener noreferrer ugc">link</a>' in html
    )
    assert "<ul>" in html and "<li>a</li>" in html


def test_headings_sit_below_the_page_headings():
    assert render_markdown("# Big") == "<h3>Big</h3>"


def test_raw_html_is_shown_as_text_not_passed_through():
    html = render_markdown('<script>alert(1)</script> <img src=x onerror="alert(1)">')
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "markdown",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![img](javascript:alert(1))",
        "<javascript:alert(1)>",
        "[ref]\n\n[ref]: javascript:alert(1)",
        "[click](file:///etc/passwd)",
    ],
)
def test_only_http_https_and_mailto_links_survive(markdown):
    html = render_markdown(markdown)
    # The text may stay as text; what matters is that no URL attribute carries it.
    assert urls_in(html) == []


def test_images_and_mailto_links_with_safe_urls_are_kept():
    html = render_markdown(
        "![slide 3](https://example.com/slide3.jpg) [mail](mailto:euan@example.com)"
    )
    assert '<img src="https://example.com/slide3.jpg" alt="slide 3">' in html
    assert 'href="mailto:euan@example.com"' in html


def test_deep_nesting_is_bounded_and_fast():
    html = render_markdown("> " * 10_000 + "deep")
    assert html.count("<blockquote>") <= 25


def test_typography_is_made_pretty():
    assert "“thingification”" in render_markdown('the "thingification" of social media')


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://broadstuff.com/post", True),
        ("http://example.com", True),
        ("mailto:a@example.com", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("https://", False),
        ("//example.com", False),
        ("", False),
    ],
)
def test_is_safe_url(url, safe):
    assert is_safe_url(url) is safe


def test_bare_urls_and_email_addresses_become_links():
    url = "https://example.com/" + "a" * 480
    html = render_markdown(f"Slides: {url}. Mail me@example.com or mailto:her@example.org")
    assert f'<a href="{url}" rel="nofollow noopener noreferrer ugc">{url}</a>.' in html
    assert urls_in(html) == [url, "mailto:me@example.com", "mailto:her@example.org"]
    # Typography leaves a linked URL alone.
    assert urls_in(render_markdown("See http://x.org/a--b...c")) == ["http://x.org/a--b...c"]


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "ftp://files.example.com/x",
        "//evil.example/x",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "settings.py and README.md and www.example.com",
        "`https://in.code.example/`",
    ],
)
def test_linkify_makes_no_link_but_http_https_and_mailto(text):
    assert urls_in(render_markdown(text)) == []
