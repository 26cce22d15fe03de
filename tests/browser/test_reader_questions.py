"""A reader's question goes through the blogger's queue: it shows up in the console without
a reload, and reaches readers only once approved, with the blogger's answer."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import open_console, open_reader, unique, wait_until_live

# Where the screenshots of the queue and of a question entry go, to be looked at.
SHOTS = Path(os.environ.get("QUESTION_SHOTS", "/tmp/question-shots"))


def test_a_question_waits_in_the_console_and_reaches_readers_once_approved(
    new_page, live_server_url
):
    server = live_server_url
    SHOTS.mkdir(parents=True, exist_ok=True)
    reader = open_reader(new_page, server)
    wait_until_live(reader)
    other_reader = open_reader(new_page, server)
    wait_until_live(other_reader)
    console = open_console(new_page, server, viewport={"width": 1280, "height": 900})
    expect(console.locator("#question-count")).to_be_visible()
    console.evaluate("window.notReloaded = true")

    words = unique("Will the slides be shared after the talk")
    reader.get_by_text("Ask a question or comment").click()
    reader.fill("#question-name", "Priya from row 3")
    reader.fill("#question-body", words)
    reader.get_by_role("button", name="Send").click()
    expect(reader.locator("#ask [role=status]")).to_have_text(
        "Sent — it appears if the blogger approves it."
    )
    expect(reader.locator("#question-body")).to_have_value("")

    # The console's queue shows it, without a reload.
    queued = console.locator("#question-list .queued-question", has_text=words)
    expect(queued).to_be_visible()
    expect(queued).to_contain_text("Priya from row 3")
    assert console.evaluate("window.notReloaded") is True
    # Readers see nothing of it yet.
    expect(other_reader.locator("#entries")).not_to_contain_text(words)
    expect(reader.locator("#entries")).not_to_contain_text(words)

    queued.scroll_into_view_if_needed()
    console.locator("#question-queue").screenshot(path=SHOTS / "queue-1280.png")
    console.set_viewport_size({"width": 375, "height": 800})
    queued.scroll_into_view_if_needed()
    console.locator("#question-queue").screenshot(path=SHOTS / "queue-375.png")
    console.set_viewport_size({"width": 1280, "height": 900})

    queued.locator("textarea[name=answer]").fill("Yes: on the **event page** tonight.")
    queued.get_by_role("button", name="Approve").click()
    expect(console.locator("#question-list")).to_contain_text("Approved: it is in the stream.")

    # Both readers get it live, as a question with its answer.
    for page in (reader, other_reader):
        entry = page.locator("#entries article.entry--question").first
        expect(entry).to_contain_text(words)
        expect(entry.locator(".reader-question__who")).to_contain_text("Priya from row 3")
        expect(entry.locator(".reader-question__answer strong")).to_have_text("event page")
    entry = other_reader.locator("#entries article.entry--question").first
    entry.screenshot(path=SHOTS / "entry-1280.png")
    other_reader.set_viewport_size({"width": 375, "height": 800})
    entry.screenshot(path=SHOTS / "entry-375.png")
    # The blogger's console shows it in the stream too.
    expect(console.locator("#console-entries")).to_contain_text(words)
