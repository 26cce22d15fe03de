"""The reader's experience: not moved while reading, key moments, sharing, times, status."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SESSION, open_console, open_reader, unique, wait_until_live

LABS = "/events/smw-london-2026/labs-and-experiments/"
POST_DIGITAL = "/events/smw-london-2026/post-digital/"
SMALL_PHONE = {"viewport": {"width": 375, "height": 640}, "reduced_motion": "reduce"}


def post(console, text: str, *, key_moment: bool = False) -> str:
    """Post a text entry from the console and return its article id (entry-<pk>)."""
    if key_moment:
        console.check("#id_key_moment")
    console.fill("#id_body", text)
    console.locator("#id_body").press("Control+Enter")
    posted = console.locator("#console-entries .console-entry", has_text=text)
    # Sent once the outbox's placeholder has become the server's entry.
    expect(posted).to_have_id(re.compile(r"^console-entry-\d+$"))
    return posted.get_attribute("id").removeprefix("console-")


def scroll_to_bottom(page) -> None:
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("() => window.scrollY > 0")


def test_a_reader_who_has_scrolled_down_is_not_moved_and_new_entries_wait_behind_a_button(
    new_page, live_server_url
):
    server = live_server_url
    reader = open_reader(new_page, server, **SMALL_PHONE)
    console = open_console(new_page, server)
    scroll_to_bottom(reader)
    last = reader.locator("#entries > article").last
    before = (reader.evaluate("() => window.scrollY"), last.bounding_box()["y"])

    texts = [unique("Held while the reader reads #1"), unique("Held while the reader reads #2")]
    for text in texts:
        post(console, text)
    button = reader.locator("#new-updates")
    expect(button).to_have_text("2 new updates")
    expect(button).to_be_in_viewport()
    expect(reader.locator("#entries").get_by_text(texts[0])).to_have_count(0)
    assert (reader.evaluate("() => window.scrollY"), last.bounding_box()["y"]) == before

    button.press("Enter")
    expect(button).to_be_hidden()
    newest = reader.locator("#entries > article").first
    expect(newest).to_contain_text(texts[1])
    expect(reader.locator("#entries > article").nth(1)).to_contain_text(texts[0])
    expect(newest).to_be_in_viewport()
    expect(newest).to_be_focused()  # focus follows the reader to the new entries


def test_held_entries_come_in_when_the_reader_scrolls_back_to_the_top(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, **SMALL_PHONE)
    console = open_console(new_page, server)
    scroll_to_bottom(reader)

    text = unique("Waiting at the top")
    entry_id = post(console, text)
    expect(reader.locator("#new-updates")).to_have_text("1 new update")
    reader.evaluate("() => window.scrollTo(0, 0)")
    expect(reader.locator(f"#{entry_id}")).to_contain_text(text)
    expect(reader.locator("#new-updates")).to_be_hidden()


def test_at_the_top_new_entries_slide_in_without_a_button(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server)
    console = open_console(new_page, server)

    entry_id = post(console, unique("Straight in"))
    expect(reader.locator("#entries > article").first).to_have_id(entry_id)
    expect(reader.locator(f"#{entry_id}")).to_have_class(re.compile(r"\bentry--new\b"))
    expect(reader.locator("#new-updates")).to_be_hidden()


def test_an_edit_to_an_entry_still_held_is_applied_before_it_is_shown(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, **SMALL_PHONE)
    console = open_console(new_page, server)
    scroll_to_bottom(reader)

    text = unique("Spelling mistaek")
    entry_id = post(console, text)
    expect(reader.locator("#new-updates")).to_have_text("1 new update")
    card = console.locator(f"#console-{entry_id}")
    card.get_by_role("button", name="Edit").click()
    console.locator("form.edit-form textarea").fill(text.replace("mistaek", "mistake"))
    console.locator("form.edit-form").get_by_role("button", name="Save").click()
    expect(console.locator(f"#console-{entry_id}")).to_contain_text("mistake")
    # Changes arrive in order: once a later entry is held too, the edit has been applied.
    post(console, unique("Posted after the edit"))
    expect(reader.locator("#new-updates")).to_have_text("2 new updates")
    expect(reader.locator(f"#{entry_id}")).to_have_count(0)
    reader.locator("#new-updates").click()
    expect(reader.locator(f"#{entry_id}")).to_contain_text("Spelling mistake")
    expect(reader.locator(f"#{entry_id}")).to_have_count(1)


def test_key_moments_are_a_strip_at_the_top_kept_live(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, LABS)
    console = open_console(new_page, server, LABS)
    strip = reader.locator("nav.key-moments")
    expect(strip).to_be_hidden()  # no key moment yet

    text = unique("Nicole Yershon: labs are permission to fail")
    entry_id = post(console, text, key_moment=True)
    expect(strip).to_be_visible()
    item = strip.locator("li")
    expect(item).to_have_count(1)
    expect(item.locator("a")).to_have_attribute("href", f"#{entry_id}")
    expect(item).to_contain_text("labs are permission to fail")
    item.locator("a").click()
    expect(reader).to_have_url(re.compile(f"#{entry_id}$"))

    other_id = post(console, unique("An ordinary update"))
    card = console.locator(f"#console-{other_id}")
    card.get_by_role("button", name="Mark key moment").click()
    expect(strip.locator("li")).to_have_count(2)
    # Oldest first, like a timeline.
    expect(strip.locator("li a").nth(1)).to_have_attribute("href", f"#{other_id}")

    console.locator(f"#console-{entry_id}").get_by_role("button", name="Unmark key moment").click()
    expect(strip.locator("li")).to_have_count(1)
    console.once("dialog", lambda dialog: dialog.accept())
    console.locator(f"#console-{other_id}").get_by_role("button", name="Delete").click()
    expect(reader.locator(f"#{other_id}")).to_have_count(0)
    expect(strip).to_be_hidden()


def test_the_share_button_copies_the_permalink_and_says_so(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, permissions=["clipboard-read", "clipboard-write"])
    article = reader.locator("#entries > article").first
    permalink = article.locator("a.entry__time").get_attribute("href")
    assert re.fullmatch(
        r"/events/smw-london-2026/like-minds-social-business/entries/\d+/", permalink
    )

    share = article.locator(".entry__share")
    expect(share).to_have_accessible_name("Share")
    share.focus()
    reader.keyboard.press("Enter")
    expect(share).to_have_text("Link copied")
    assert reader.evaluate("() => navigator.clipboard.readText()") == server.url + permalink
    expect(reader.locator("#live-announcer")).to_have_text("Link copied")
    expect(share).to_have_text("Share")  # the confirmation goes away by itself


def test_the_share_button_uses_the_web_share_api_where_the_browser_has_it(
    new_page, live_server_url
):
    server = live_server_url
    page = new_page()
    page.add_init_script(
        "navigator.share = (data) => { window.shared = data; return Promise.resolve(); };"
    )
    page.goto(server.url + SESSION)
    article = page.locator("#entries > article").first
    article.get_by_role("button", name="Share").click()
    page.wait_for_function("() => window.shared !== undefined")
    shared = page.evaluate("() => window.shared")
    assert shared["url"] == server.url + article.locator("a.entry__time").get_attribute("href")
    assert shared["text"] and shared["title"].endswith("· Liveblog")


def test_times_are_relative_kept_fresh_and_absolute_in_the_event_time_zone_on_hover(
    new_page, live_server_url
):
    server = live_server_url
    reader = new_page(timezone_id="America/Los_Angeles")  # the reader is not in London
    reader.clock.install()
    reader.goto(server.url + SESSION)
    wait_until_live(reader)
    console = open_console(new_page, server)
    entry_id = post(console, unique("Timed to the minute"))

    time = reader.locator(f"#{entry_id} .entry__time time")
    expect(time).to_have_text("just now")
    # The event is in London: the absolute time names London's zone, whatever the reader's.
    expect(time).to_have_attribute(
        "title", re.compile(r"^\w{3} \d{1,2} \w{3}, \d{2}:\d{2} (GMT|BST)$")
    )
    label = reader.locator(f"#{entry_id} .entry__time").get_attribute("aria-label")
    assert label.startswith("just now, ") and label.endswith(", permalink")
    reader.clock.fast_forward("03:10")
    expect(time).to_have_text("3 min ago")
    reader.clock.fast_forward("02:00:00")
    expect(time).to_have_text("2 h ago")


def test_the_status_and_live_badge_change_live(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server, POST_DIGITAL)
    console = open_console(new_page, server, POST_DIGITAL)
    status = reader.locator("#session-status .status")
    expect(status).to_have_text("Upcoming")

    console.get_by_role("button", name="Start session").click()
    expect(status).to_have_text("Live")
    expect(status).to_have_class(re.compile(r"\bstatus--live\b"))
    expect(reader.locator("#session-status .status__pulse")).to_have_count(1)
    expect(reader.locator("#live-announcer")).to_have_text("The session is live now.")
    expect(reader.locator("#no-entries")).to_have_text("No updates yet.")

    console.once("dialog", lambda dialog: dialog.accept())
    console.get_by_role("button", name="End session").click()
    expect(status).to_have_text("Ended")
    expect(reader.locator("#session-status .status__pulse")).to_have_count(0)
    expect(reader.locator("#live-announcer")).to_have_text("The session has ended.")


def test_a_discreet_banner_says_when_the_connection_is_lost_and_when_it_is_back(
    new_page, live_server_url
):
    reader = open_reader(new_page, live_server_url)
    banner = reader.locator("#live-banner")
    expect(banner).to_be_hidden()

    reader.context.set_offline(True)
    reader.evaluate("() => window.dispatchEvent(new Event('offline'))")
    expect(banner).to_have_text(re.compile("^You are offline"))
    expect(banner).to_be_in_viewport()
    reader.context.set_offline(False)
    reader.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(banner).to_have_text("Back online: up to date.")
    expect(reader.locator("[data-live-session]")).to_have_attribute("data-connection", "live")
    expect(banner).to_be_hidden()  # and then it goes away


def test_new_entries_are_announced_in_one_polite_live_region_and_edits_are_not(
    new_page, live_server_url
):
    server = live_server_url
    reader = open_reader(new_page, server)
    console = open_console(new_page, server)
    regions = reader.locator("[aria-live], [role=status], [role=alert], [role=log]")
    expect(regions).to_have_count(1)
    expect(regions).to_have_attribute("aria-live", "polite")
    reader.evaluate(
        """() => {
            window.announced = [];
            const region = document.getElementById('live-announcer');
            new MutationObserver(() => region.textContent && window.announced.push(region.textContent))
                .observe(region, {childList: true, characterData: true, subtree: true});
        }"""
    )

    first = unique("First announced")
    entry_id = post(console, first)
    reader.wait_for_function("() => window.announced.length === 1")
    console.locator(f"#console-{entry_id}").get_by_role("button", name="Edit").click()
    console.locator("form.edit-form textarea").fill(first + " (edited)")
    console.locator("form.edit-form").get_by_role("button", name="Save").click()
    expect(reader.locator(f"#{entry_id}")).to_contain_text("(edited)")
    second = unique("Second announced")
    post(console, second)
    reader.wait_for_function("() => window.announced.length >= 2")

    # The edit happened between the two and was not announced.
    assert reader.evaluate("() => window.announced") == [
        f"New update: {first}",
        f"New update: {second}",
    ]
