"""In a real browser, the nastiest payloads run nothing: no dialog, no injected script.

Thirty payloads (from tests/data/xss, each rewritten to set `window.__xss` or open a
dialog if it ever runs) are posted through the API to a session of their own, while a
reader watches: they arrive live, through live.js. Then the reader page is loaded afresh,
with its older page, and so are the console (htmx loaded), the speaker page and an entry's
page. On each, no dialog opened, `window.__xss` is unset, no request went to the probe
URL, and the DOM holds no event-handler attribute, no script or frame of the payloads'
and no link or image to anything but http, https or mailto.

The page's Content-Security-Policy would stop inline script on its own; the DOM checks
make sure the sanitising stands without it.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, wait_until_live

RUN = "window.__xss=1"
PAYLOADS = [
    f"<script>{RUN}</script>",
    f"<img src=x onerror={RUN}>",
    f"<svg onload={RUN}>",
    f"<svg><script>{RUN}</script></svg>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<iframe src="javascript:parent.__xss=1"></iframe>',
    f"<details open ontoggle={RUN}>x</details>",
    f"<body onload={RUN}>",
    f"<video><source onerror={RUN}></video>",
    f"<audio src=x onerror={RUN}></audio>",
    f"<input autofocus onfocus={RUN}>",
    f'<object data="javascript:{RUN}"></object>',
    f'<embed src="javascript:{RUN}">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(document.domain)">',
    f"<math><mtext><table><mglyph><style><img src=x onerror={RUN}>",
    f'<noscript><p title="</noscript><img src=x onerror={RUN}>">',
    f"<form><button formaction=javascript:{RUN}>x</button></form>",
    f'<a href="javas&#x09;cript:{RUN}">tab</a>',
    f"<style>@import 'javascript:{RUN}';</style>",
    '<base href="javascript:alert(document.domain)//">',
    f'<div hx-get="/xss-probe" hx-trigger="load" hx-on:htmx:load="{RUN}">htmx</div>',
    f'<img src="/xss-probe" hx-on::load="{RUN}">',
    f"[click](javascript:{RUN})",
    f"[click](JaVaScRiPt&#58;{RUN})",
    f"![x](javascript:{RUN})",
    "![probe](/xss-probe.png)",
    f"<javascript:{RUN}>",
    f"[ref]\n\n[ref]: javascript:{RUN}",
    f"</div></article><script>{RUN}</script>",
    f'"><img src=x onerror={RUN}>',
]
PROBE = "xss-probe"
SLUG = "no-script-runs"

# What the DOM of a page must not hold, wherever the payloads landed.
DOM_CHECK = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) problems.push(`${el.tagName} ${attr.name}`);
      if (attr.name.startsWith('hx-on')) problems.push(`${el.tagName} ${attr.name}`);
    }
  }
  // JSON-LD is a data block, never run; its contents are checked in tests/test_xss_corpus.py.
  for (const el of document.querySelectorAll('script:not([type="application/ld+json"])')) {
    const src = el.getAttribute('src') || '';
    if (!src.startsWith('/static/') || el.textContent.trim()) problems.push('script ' + src);
  }
  for (const tag of ['iframe', 'object', 'embed', 'base', 'frame', 'style']) {
    for (const el of document.body.querySelectorAll(tag)) problems.push(tag);
  }
  const inBody = '.entry__body a[href], .entry__body img[src], .quote__body a[href], .quote__body img[src]';
  for (const el of document.querySelectorAll(`${inBody}, .quote__who cite a[href], blockquote[cite]`)) {
    const raw = el.getAttribute('href') ?? el.getAttribute('src') ?? el.getAttribute('cite');
    const url = new URL(raw, location.href);
    if (!['http:', 'https:', 'mailto:'].includes(url.protocol)) problems.push(url.href);
    if (el.matches(inBody) && url.origin === location.origin) problems.push('own: ' + url.href);
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def lab(live_server_url):
    """A session of the payloads' own in the demo event, a speaker, and the blogger's token."""
    out = live_server_url.shell(
        "import datetime as dt, json\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.utils import timezone\n"
        "from accounts.models import ApiToken\n"
        "from sessions.models import Session, Speaker\n"
        "base = Session.objects.get(slug='like-minds-social-business')\n"
        "blogger = get_user_model().objects.get(username='blogger')\n"
        "start = timezone.now() - dt.timedelta(hours=3)\n"
        f"session = Session.objects.create(event=base.event, slug={SLUG!r}, title='Payload lab',\n"
        "    starts_at=start, ends_at=start + dt.timedelta(hours=1), status='ended')\n"
        "session.bloggers.add(blogger)\n"
        f"speaker = Speaker.objects.create(name='Pat Payload', slug={SLUG!r})\n"
        "session.speakers.add(speaker)\n"
        "_, secret = ApiToken.issue(blogger, 'browser payloads')\n"
        "print(json.dumps({'session': session.pk, 'speaker': speaker.pk, 'token': secret,\n"
        "    'path': session.get_absolute_url()}))\n"
    )
    return {**json.loads(out.strip().splitlines()[-1]), "server": live_server_url}


def post(lab, payload: dict) -> dict:
    request = urllib.request.Request(
        f"{lab['server'].url}/api/sessions/{lab['session']}/entries",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {lab['token']}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 201
        return json.loads(response.read())


def watch(page) -> dict:
    """Record what a payload could do that we can see from outside the page."""
    seen = {"dialogs": [], "probes": []}

    def on_dialog(dialog) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: PROBE in request.url and seen["probes"].append(request.url))
    return seen


def assert_nothing_ran(page, seen: dict, where: str) -> None:
    page.wait_for_timeout(300)  # let load, error and toggle events fire
    assert seen["dialogs"] == [], where
    assert seen["probes"] == [], where
    assert page.evaluate("() => window.__xss") is None, where
    assert page.evaluate(DOM_CHECK) == [], where


def test_no_payload_runs_live_or_loaded(new_page, lab):
    server = lab["server"]
    reader = new_page()
    reader_seen = watch(reader)
    reader.goto(server.url + lab["path"])
    wait_until_live(reader)

    posted = []
    for number, body in enumerate(PAYLOADS):
        if number % 2:
            fields = {"kind": "quote", "body": body, "speaker": lab["speaker"]}
        else:
            fields = {"kind": "text", "body": body}
        posted.append(post(lab, fields))
    named = post(
        lab,
        {
            "kind": "quote",
            "body": PAYLOADS[1],
            "attribution": PAYLOADS[1],
            "source_url": 'https://example.com/"onmouseover="window.__xss=1',
        },
    )
    posted.append(named)

    # They arrive live, through the websocket and live.js.
    last = reader.locator(f"#entry-{posted[-1]['id']}")
    new_updates = reader.locator("#new-updates")
    if new_updates.count() and new_updates.is_visible():
        new_updates.click()
    expect(last).to_be_attached()
    expect(reader.locator("#entries article.entry")).to_have_count(len(posted))
    assert_nothing_ran(reader, reader_seen, "reader, live")

    pages = [
        lab["path"],
        f"{lab['path']}?before={posted[len(posted) // 2]['created_seq']}",
        f"/speakers/{SLUG}/",
        f"{lab['path']}entries/{posted[0]['id']}/",
        f"{lab['path']}entries/{named['id']}/",
    ]
    for path in pages:
        page = new_page()
        seen = watch(page)
        page.goto(server.url + path)
        expect(page.locator("article.entry").first).to_be_attached()
        assert_nothing_ran(page, seen, path)

    console = new_page()
    seen = watch(console)
    log_in(console, server)
    console.goto(server.url + lab["path"] + "console/")
    expect(console.locator("#console-entries article.entry")).to_have_count(len(posted))
    console.wait_for_function("() => window.htmx !== undefined")
    assert_nothing_ran(console, seen, "console")
