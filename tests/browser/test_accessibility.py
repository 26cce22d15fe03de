"""Usable by everyone: axe-core finds nothing, and the keyboard alone is enough to blog."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DEMO_PASSWORD,
    SESSION,
    log_in,
    open_console,
    open_reader,
    unique,
    wait_until_live,
)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"

READER_PAGES = {
    "home": "/",
    "event": "/events/smw-london-2026/",
    "session": SESSION,
    "speaker": "/speakers/euan-semple/",
    "login": "/accounts/login/",
}
BLOGGER_PAGES = {
    "home, logged in": "/",
    "console": SESSION + "console/",
    "profile": "/accounts/profile/",
}


def axe_violations(page) -> list[str]:
    """Run axe-core (all rules but the experimental ones) and describe each violation."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    ]


def scan(page, url: str, scheme: str) -> list[str]:
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    page.goto(url)
    expect(page.locator("main")).to_be_visible()
    return axe_violations(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_the_reader_pages(new_page, live_server_url, scheme):
    page = new_page(bypass_csp=True)  # axe is injected as an inline script
    found = {
        name: violations
        for name, path in READER_PAGES.items()
        if (violations := scan(page, live_server_url.url + path, scheme))
    }
    assert found == {}, "\n".join(f"{name}: {'; '.join(v)}" for name, v in found.items())


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_the_blogger_pages(new_page, live_server_url, scheme):
    page = new_page(bypass_csp=True)
    log_in(page, live_server_url)
    found = {
        name: violations
        for name, path in BLOGGER_PAGES.items()
        if (violations := scan(page, live_server_url.url + path, scheme))
    }
    assert found == {}, "\n".join(f"{name}: {'; '.join(v)}" for name, v in found.items())


def test_the_session_page_passes_axe_with_its_live_controls_showing(new_page, live_server_url):
    server = live_server_url
    for scheme in ("light", "dark"):
        reader = open_reader(
            new_page,
            server,
            viewport={"width": 375, "height": 640},
            color_scheme=scheme,
            reduced_motion="reduce",
            permissions=["clipboard-read", "clipboard-write"],
            bypass_csp=True,
        )
        console = open_console(new_page, server)
        reader.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        reader.wait_for_function("() => window.scrollY > 0")
        console.fill("#id_body", unique("Held behind the button"))
        console.locator("#id_body").press("Control+Enter")
        expect(reader.locator("#new-updates")).to_be_visible()
        reader.locator(".entry__share").last.click()
        expect(reader.locator(".entry__share").last).to_have_text("Link copied")
        reader.context.set_offline(True)
        reader.evaluate("() => window.dispatchEvent(new Event('offline'))")
        expect(reader.locator("#live-banner")).to_be_visible()
        assert axe_violations(reader) == [], scheme
        reader.context.set_offline(False)


# ---- Keyboard -------------------------------------------------------------------------

# What may take focus, and is shown: the page's own controls, in the tab order.
FOCUSABLE = """() => Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])'
)).filter((el) => !el.disabled && !el.closest('[hidden]') && el.getClientRects().length
    // A closed <details> shows its summary only.
    && !(el.closest('details:not([open])') && !el.closest('summary'))
    && !(el.type === 'radio' && !el.checked))
  .map((el) => el.outerHTML.slice(0, 120))"""

# The focused control, and whether its focus is visible: an outline on it, or on the
# option it sits in (the console's kind switch hides the radio inside a styled label).
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const shown = el.closest('.kind-switch__option') || el;
    const style = getComputedStyle(shown);
    return {
        html: el.outerHTML.slice(0, 120),
        visible: el.matches(':focus-visible') && style.outlineStyle !== 'none'
            && parseFloat(style.outlineWidth) >= 2,
    };
}"""


def tab_through(page) -> list[dict]:
    """One whole round of Tab through the page; what was focused, in order.

    Focus first leaves the page (past its last control, or from an autofocused field),
    then the round runs from the first control until focus leaves again.
    """
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) is None:
            break
    seen = []
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        seen.append(focused)
    return seen


def tab_to(page, selector: str) -> None:
    """Press Tab until the element matching `selector` has focus."""
    for _ in range(80):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def assert_every_control_reachable_with_visible_focus(page) -> None:
    expected = page.evaluate(FOCUSABLE)
    reached = tab_through(page)
    assert [f["html"] for f in reached] == expected
    assert [f["html"] for f in reached if not f["visible"]] == []


@pytest.mark.parametrize("name", list(READER_PAGES))
def test_every_control_on_the_reader_pages_is_reached_by_tab_with_a_visible_focus(
    new_page, live_server_url, name
):
    page = new_page()
    page.goto(live_server_url.url + READER_PAGES[name])
    if name == "session":
        wait_until_live(page)  # the share buttons are in place
    assert_every_control_reachable_with_visible_focus(page)


@pytest.mark.parametrize("name", list(BLOGGER_PAGES))
def test_every_control_on_the_blogger_pages_is_reached_by_tab_with_a_visible_focus(
    new_page, live_server_url, name
):
    page = new_page()
    log_in(page, live_server_url)
    page.goto(live_server_url.url + BLOGGER_PAGES[name])
    expect(page.locator("main")).to_be_visible()
    assert_every_control_reachable_with_visible_focus(page)


def test_a_blogger_logs_in_and_posts_text_and_a_quote_with_the_keyboard_only(
    new_page, live_server_url
):
    server = live_server_url
    reader = open_reader(new_page, server)
    page = new_page()
    page.goto(server.url + "/accounts/login/")
    tab_to(page, "#id_username")
    page.keyboard.type("blogger")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")

    # From the home page to the session's console by its link.
    tab_to(page, f'a[href="{SESSION}console/"]')
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + SESSION + "console/")

    text = unique("Typed without a mouse")
    tab_to(page, "#id_body")
    page.keyboard.type(text)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#console-entries .console-entry").first).to_contain_text(text)
    expect(reader.locator("#entries > article").first).to_contain_text(text)

    # A quote: the kind switch is a radio group (arrow keys), the speaker a select (type
    # ahead), and the Post button is pressed with Enter.
    quote = unique("Organisations do not tweet, people do")
    tab_to(page, "input[name=kind]:checked")
    page.keyboard.press("ArrowRight")
    expect(page.locator("input[name=kind][value=quote]")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.locator("#id_body")).to_be_focused()
    page.keyboard.type(quote)
    page.keyboard.press("Tab")
    expect(page.locator("#id_attribution_speaker")).to_be_focused()
    page.keyboard.type("Euan")
    expect(page.locator("#id_attribution_speaker option:checked")).to_have_text("Euan Semple")
    tab_to(page, "#compose button[type=submit]")
    page.keyboard.press("Enter")

    posted = page.locator("#console-entries .console-entry").first
    expect(posted.locator("blockquote")).to_contain_text(quote)
    article = reader.locator("#entries > article").first
    expect(article.locator("blockquote")).to_contain_text(quote)
    expect(article.locator("figcaption")).to_contain_text("Euan Semple")
    expect(reader.locator("#entries > article").nth(1)).to_contain_text(text)
