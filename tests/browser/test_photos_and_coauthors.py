"""A photo of a slide posted from the console reaches readers; a co-author sees it arrive."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import (
    SESSION,
    log_in,
    open_console,
    open_reader,
    unique,
)
from tests.photo_files import photo


def test_a_photo_posted_from_the_console_appears_upright_on_a_readers_page_and_a_co_authors_console(
    new_page, live_server_url, tmp_path
):
    server = live_server_url
    reader = open_reader(new_page, server)
    co_author = new_page()
    log_in(co_author, server, "organiser")
    co_author.goto(server.url + SESSION + "console/")
    console = open_console(new_page, server)
    slide = tmp_path / "IMG_0042.jpg"
    slide.write_bytes(photo("JPEG"))  # GPS, the phone's model, stored sideways

    alt = unique("Euan's slide: social media wrapped up as a parcel")
    console.set_input_files("#photo-image", str(slide))
    expect(console.locator("[data-photo-preview]")).to_be_visible()
    console.fill("#photo-alt", alt)
    console.fill("#photo-caption", "The *thingification* of social media")
    console.click("#photo-form button[type=submit]")

    posted = console.locator("#console-entries .console-entry").first
    expect(posted.locator("img")).to_have_attribute("alt", alt)
    image = reader.locator("#entries article.entry").first.locator("img")
    expect(image).to_have_attribute("alt", alt)
    expect(image).to_have_attribute("loading", "lazy")
    expect(image).to_have_attribute("width", "200")
    expect(image).to_have_attribute("height", "300")
    expect(image).to_have_attribute("srcset", re.compile(r"/media/photos/\w+/200w\.jpg 200w"))
    expect(reader.locator("#entries article.entry").first.locator("figcaption em")).to_have_text(
        "thingification"
    )
    image.scroll_into_view_if_needed()
    reader.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    # Upright: taller than wide, as it was held (srcset scales the natural size, not its shape).
    width, height = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert height / width == 1.5

    # The organiser's console shows it live, with the controls an organiser has.
    arrived = co_author.locator("#console-entries .console-entry").first
    expect(arrived.locator("img")).to_have_attribute("alt", alt)
    # Not its author: the organiser hides it with a reason, and may pin or feature it.
    expect(arrived.get_by_role("button", name="Hide…")).to_be_visible()
    expect(arrived.get_by_role("button", name="Pin to top")).to_be_visible()
    expect(arrived.get_by_role("button", name="Delete")).to_have_count(0)


def test_a_co_authors_entry_arrives_in_a_bloggers_console_without_their_controls(
    new_page, live_server_url
):
    server = live_server_url
    blogger = open_console(new_page, server)
    organiser = new_page()
    log_in(organiser, server, "organiser")
    organiser.goto(server.url + SESSION + "console/")

    text = unique("The organiser adds the Wi-Fi password")
    organiser.fill("#id_body", text)
    organiser.click("#compose button[type=submit]")

    arrived = blogger.locator("#console-entries .console-entry").first
    expect(arrived).to_contain_text(text)
    expect(arrived.locator(".entry__author")).to_contain_text("Olivia")
    expect(arrived.get_by_role("button", name="Edit")).to_have_count(0)
