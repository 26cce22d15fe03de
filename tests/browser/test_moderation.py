"""An organiser pins an entry and a reader's page shows it on top, live; then hides one
with a reason, and the audit log lists it. Screenshots at 375 and 1280 px for a look
(in SCREENSHOT_DIR when set, else a temporary folder)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import SESSION, log_in, open_reader

AUDIT = "/organise/smw-london-2026/audit/"
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def shots() -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="moderation-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_an_organiser_pins_and_hides_and_the_audit_log_lists_it(new_page, live_server_url):
    server = live_server_url
    reader = open_reader(new_page, server)
    organiser = new_page(**DESKTOP)
    log_in(organiser, server, "organiser")
    organiser.goto(server.url + SESSION + "console/")
    entries = organiser.locator("#console-entries .console-entry")
    expect(entries.first).to_be_visible()
    # Pin the oldest entry the console shows: the reader sees it move to the top.
    oldest = entries.last
    entry_id = oldest.get_attribute("id").removeprefix("console-entry-")
    oldest.get_by_role("button", name="Pin to top").click()
    expect(organiser.locator(f"#console-entry-{entry_id}")).to_contain_text("Unpin")
    pinned = reader.locator(f"#pinned-entry #entry-{entry_id}")
    expect(pinned).to_be_visible()
    expect(pinned.locator(".entry__badge--pinned")).to_have_text("Pinned")
    assert reader.locator(f"#entry-{entry_id}").count() == 1  # moved, not copied
    slot = reader.locator("#pinned-entry").bounding_box()
    stream = reader.locator("#entries").bounding_box()
    assert slot["y"] + slot["height"] <= stream["y"]
    # A reader who arrives now gets the same page from the server.
    late = open_reader(new_page, server, **PHONE)
    expect(late.locator(f"#pinned-entry #entry-{entry_id}")).to_be_visible()
    folder = shots()
    late.screenshot(path=str(folder / "session-pinned-phone.png"), animations="disabled")
    desktop_reader = open_reader(new_page, server, **DESKTOP)
    desktop_reader.screenshot(
        path=str(folder / "session-pinned-desktop.png"), animations="disabled"
    )

    # Hide the newest entry with a reason: refused without one, then gone for the reader.
    newest = organiser.locator("#console-entries .console-entry").first
    hidden_id = newest.get_attribute("id").removeprefix("console-entry-")
    assert hidden_id != entry_id
    newest.get_by_role("button", name="Hide…").click()
    form = organiser.locator(f"#console-entry-{hidden_id} form.hide-form")
    # htmx enables what it swapped in when it settles: until then the form is a plain one,
    # and a click as fast as a test's submits it without htmx (once seen in CI).
    organiser.wait_for_function(
        "(form) => Boolean(form['htmx-internal-data'] && form['htmx-internal-data'].initHash)",
        arg=form.element_handle(),
    )
    reason = unique_reason = "Duplicate of the entry above"
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Hide").click()
    expect(organiser.locator(f"#console-entry-{hidden_id}")).to_contain_text("Entry deleted")
    expect(reader.locator(f"#entry-{hidden_id}")).to_have_count(0)

    # The audit log lists both, newest first, with the reason.
    organiser.goto(server.url + AUDIT)
    rows = organiser.locator(".audit-table tbody tr")
    expect(rows.first).to_contain_text("Hidden")
    expect(rows.first).to_contain_text(unique_reason)
    expect(organiser.locator(".audit-table")).to_contain_text("Pinned")
    organiser.select_option("#id_action", "pinned")
    organiser.get_by_role("button", name="Filter").click()
    expect(rows.first).to_contain_text("Pinned")
    expect(organiser.locator(".audit-table")).not_to_contain_text(unique_reason)
    organiser.goto(server.url + AUDIT)
    organiser.screenshot(path=str(folder / "audit-desktop.png"), full_page=True)
    phone = new_page(**PHONE)
    log_in(phone, server, "organiser")
    phone.goto(server.url + AUDIT)
    phone.screenshot(path=str(folder / "audit-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375

    # Put things back for the other tests: restore from the audit log, unpin from the console.
    organiser.locator(f"#audit-{_first_row_id(organiser)}").get_by_role(
        "button", name="Restore"
    ).click()
    expect(reader.locator(f"#entry-{hidden_id}")).to_be_visible()
    organiser.goto(server.url + SESSION + "console/")
    organiser.locator(f"#console-entry-{entry_id}").get_by_role("button", name="Unpin").click()
    expect(reader.locator(f"#entries #entry-{entry_id}")).to_be_visible()
    expect(reader.locator("#pinned-entry")).to_be_hidden()


def _first_row_id(page) -> str:
    return page.locator(".audit-table tbody tr").first.get_attribute("id").removeprefix("audit-")
