"""Markdown to safe HTML, done once when an entry is saved.

markdown-it-py's "js-default" preset ignores raw HTML and refuses javascript:, vbscript:,
file: and most data: links; nh3 then keeps only the tags and attributes below, and every
link and image keeps its URL only if is_safe_url accepts it (absolute http, https or
mailto), so nothing a blogger types can run in a reader's browser. See docs/security.md.

Bare URLs become links (linkify-it-py), but only those written with their scheme
("https://…") and e-mail addresses: "settings.py" or "README.md" stay text, though .py and
.md are top-level domains. Linkified URLs go through the same nh3 and is_safe_url checks.

Hashtags (#smwldn) link to their tag page (entries.hashtags): the one relative URL an
entry may hold is such a path, and the one class a link may carry is theirs.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

from entries.hashtags import LINK_CLASS, hashtag_plugin, is_tag_path

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src"}

_md = MarkdownIt("js-default", {"typographer": True, "linkify": True}).enable(
    ["table", "strikethrough", "replacements", "smartquotes", "linkify"]
)
_md.linkify.set({"fuzzy_link": False})
_md.use(hashtag_plugin)
# Headings in an entry sit under the page's h1/h2: shift them down so the outline holds.
_md.options["maxNesting"] = 20


def _shift_headings(tokens, *_args) -> None:
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            level = min(int(token.tag[1]) + 2, 6)
            token.tag = f"h{level}"


_md.core.ruler.push("shift_headings", lambda state: _shift_headings(state.tokens))


def _flatten_deep_inline(tokens, *_args) -> None:
    # maxNesting bounds blocks, but emphasis is paired after parsing and is not bounded:
    # "*" * 10_000 would nest 5,000 <strong>s. Past the limit, the markers stay as text.
    limit = _md.options["maxNesting"]
    for token in tokens:
        stack: list[bool] = []
        for child in token.children or ():
            if child.nesting == 1:
                stack.append(len(stack) >= limit)
                flatten = stack[-1]
            elif child.nesting == -1 and stack:
                flatten = stack.pop()
            else:
                continue
            if flatten:
                child.type, child.tag, child.nesting = "text", "", 0
                child.content, child.attrs = child.markup, {}


_md.core.ruler.push("flatten_deep_inline", lambda state: _flatten_deep_inline(state.tokens))


def _keep_safe_urls(tag: str, attribute: str, value: str) -> str | None:
    # nh3's url_schemes lets relative and scheme-relative URLs through ("//evil.example",
    # "jav%09ascript:"): an entry has no page of its own to be relative to, so drop them.
    if attribute == "class":
        return value if tag == "a" and value == LINK_CLASS else None
    if tag == "a" and attribute == "href" and is_tag_path(value):
        return value  # a hashtag's page, ours
    if attribute in URL_ATTRIBUTES and not is_safe_url(value):
        return None
    return value


def render_markdown(text: str) -> str:
    """Render a blogger's Markdown to sanitised HTML."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_safe_urls,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        strip_comments=True,
    ).strip()


def is_safe_url(url: str) -> bool:
    """True for the http, https and mailto URLs the product is willing to render."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme.lower() in {"http", "https"}:
        return bool(parts.netloc)
    return parts.scheme.lower() == "mailto" and bool(parts.path)


_TAG = re.compile(r"<[^>]*>")


def plain_text(rendered: str) -> str:
    """The words of HTML that render_markdown made, without markup and with its entities
    decoded ("Q&amp;A" is "Q&A"), whitespace collapsed: for key-moment strips, feed titles,
    quotes and structured data, each of which escapes it again for where it goes.

    Django's striptags keeps entities as they are, so escaping its result showed readers
    "Q&amp;A"; and it runs an HTML parser, a tenth of a session page's time for its key
    moments. The HTML here is nh3's output, whose tags are whole and hold no ">" unescaped
    in a value, so a pattern takes them out.
    """
    return " ".join(html.unescape(_TAG.sub("", rendered)).split())
