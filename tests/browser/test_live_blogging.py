"""What people see: a blogger posts from the console, readers watch it arrive live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SESSION, open_console, open_reader, unique


def test_two_readers_see_an_entry_posted_from_the_console_without_reloading(
    new_page, live_server_url
):
    server = live_server_url
    readers = [open_reader(new_page, server) for _ in range(2)]
    console = open_console(new_page, server)

    text = unique("Euan Semple on the thingification of social media")
    console.fill("#id_body", text)
    console.keyboard.press("Control+Enter")
    expect(console.locator("#console-entries .console-entry").first).to_contain_text(text)

    for page in readers:
        entry = page.locator("#entries article.entry").first
        expect(entry).to_contain_text(text)
        expect(entry).to_have_attribute("data-seq", re.compile(r"^\d+$"))
        assert (
            page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
        )  # no reload


def test_a_quote_an_edit_and_a_deletion_reach_readers(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server)
    console = open_console(new_page, server)

    console.check("input[name=kind][value=quote]")
    console.select_option("#id_attribution_speaker", label="Euan Semple")
    quote = unique("The web is becoming part of everyday lives")
    console.fill("#id_body", quote)
    console.click("#compose button[type=submit]")
    posted = console.locator("#console-entries .console-entry").first
    expect(posted).to_contain_text(quote)

    article = reader.locator("#entries article.entry").first
    expect(article.locator("blockquote")).to_contain_text(quote)
    expect(article.locator("figcaption a")).to_have_text("Euan Semple")

    posted.get_by_role("button", name="Edit").click()
    edited = quote + " (corrected)"
    console.locator("form.edit-form textarea").fill(edited)
    console.locator("form.edit-form").get_by_role("button", name="Save").click()
    expect(reader.locator("#entries article.entry").first).to_contain_text("(corrected)")

    entry_id = (
        console.locator("#console-entries .console-entry")
        .first.get_attribute("id")
        .removeprefix("console-")
    )
    console.once("dialog", lambda dialog: dialog.accept())
    console.locator(f"#console-{entry_id}").get_by_role("button", name="Delete").click()
    expect(reader.locator(f"#{entry_id}")).to_have_count(0)


def test_a_reader_offline_while_three_entries_are_posted_gets_all_three_once_in_order(
    new_page, live_server_url
):
    server = live_server_url
    reader = open_reader(new_page, server)
    console = open_console(new_page, server)

    reader.context.set_offline(True)
    reader.evaluate("() => window.dispatchEvent(new Event('offline'))")
    texts = [unique(f"Posted while the reader was away #{i}") for i in range(3)]
    for text in texts:
        console.fill("#id_body", text)
        console.keyboard.press("Control+Enter")
        expect(console.locator("#console-entries .console-entry").first).to_contain_text(text)
    expect(reader.locator("#live-banner")).to_contain_text("offline")
    reader.context.set_offline(False)
    reader.evaluate("() => window.dispatchEvent(new Event('online'))")

    expect(reader.locator("#entries article.entry").first).to_contain_text(texts[2])
    shown = reader.locator("#entries article.entry .entry__body").all_inner_texts()
    positions = [next(i for i, body in enumerate(shown) if text in body) for text in texts]
    assert positions == sorted(positions, reverse=True)  # newest first, in posting order
    assert all(sum(text in body for body in shown) == 1 for text in texts)


def test_the_session_page_reads_fully_without_javascript(new_page, live_server_url):
    page = new_page(java_script_enabled=False)
    page.goto(live_server_url.url + SESSION)
    expect(page.locator("h1")).to_have_text("Like Minds: the Social Business Immersive")
    expect(page.locator("#entries blockquote").first).to_be_visible()
    expect(page.get_by_text("thingification").first).to_be_visible()


def test_the_console_keeps_a_draft_across_a_reload(new_page, live_server_url):
    console = open_console(new_page, live_server_url)
    console.fill("#id_body", "Half-written thought about Broadstuff")
    console.reload()
    expect(console.locator("#id_body")).to_have_value("Half-written thought about Broadstuff")
    console.fill("#id_body", "")
    console.locator("#id_body").dispatch_event("input")


def test_what_the_console_queued_offline_is_sent_once_back_online(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server)
    console = open_console(new_page, server)

    console.context.set_offline(True)
    text = unique("Written in the basement with no signal")
    console.fill("#id_body", text)
    console.keyboard.press("Control+Enter")
    pending = console.locator(".console-entry--pending").first
    expect(pending).to_contain_text(text)
    expect(pending).to_contain_text("Waiting for the network")

    # The outbox survives a reload while the server is still out of reach.
    console.route("**/console/entries/", lambda route: route.abort("internetdisconnected"))
    console.context.set_offline(False)
    console.reload()
    expect(console.locator(".console-entry--pending").first).to_contain_text(text)
    expect(console.locator(".console-entry--pending").first).to_contain_text(
        "Waiting for the network"
    )

    console.unroute("**/console/entries/")
    console.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(console.locator(".console-entry--pending")).to_have_count(0)
    expect(reader.locator("#entries article.entry").first).to_contain_text(text)
    count = server.shell(
        f"from entries.models import Entry; print(Entry.objects.filter(body={text!r}).count())"
    )
    assert count.strip() == "1"
