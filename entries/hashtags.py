"""Hashtags written in entries (#smwldn): found, normalised, and linked to their tag page.

A hashtag is "#" and one word of letters, digits or underscores with at least one letter
(so "#1" stays text), not glued to a word before it ("C#", "a#b" are not tags) nor part
of an HTML entity. Tags compare without case: #SMWLDN and #smwldn are one tag, and its
page is /tags/smwldn/.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from django.db.models import Q
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

HASHTAG = re.compile(r"(?<![\w&#/])#(?=\w*[^\W\d_])(\w{1,64})(?!\w)")
# What a tag page's path may be in an entry's HTML: one percent-encoded segment (checked
# by is_tag_path to be no "." or ".." either, written plainly or as %2e).
TAG_PATH = re.compile(r"^/tags/((?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})+)/$")
TAG_WORD = re.compile(r"^\w{1,64}$")
LINK_CLASS = "hashtag"


def normalise(tag: str) -> str:
    """The tag as its page knows it: no leading "#", lower case."""
    return tag.removeprefix("#").lower()


def tag_path(tag: str) -> str:
    """The tag page's path (entries:tag), percent-encoded for any script."""
    return f"/tags/{quote(normalise(tag), safe='')}/"


def tagged(tag: str) -> Q:
    """The entries that carry the tag: their rendered HTML links its page (tag page, feed)."""
    return Q(html__contains=f'href="{tag_path(tag)}"')


def is_tag_path(value: str) -> bool:
    """Is this href a tag page's path, and nothing that resolves elsewhere."""
    match = TAG_PATH.match(value)
    return bool(match) and unquote(match.group(1)).strip(".") != ""


def tags_in(text: str) -> list[str]:
    """The distinct tags in a text, normalised, in order of first appearance."""
    return list(dict.fromkeys(normalise(match) for match in HASHTAG.findall(text)))


def _link_hashtags(state: StateCore) -> None:
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            if token.type != "text" or in_link or "#" not in token.content:
                children.append(token)
                continue
            children.extend(_split(token.content, token.level))
        block.children = children


def _split(text: str, level: int) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    for match in HASHTAG.finditer(text):
        if match.start() > position:
            tokens.append(_text(text[position : match.start()], level))
        opening = Token("link_open", "a", 1, level=level)
        opening.attrs = {"href": tag_path(match.group(1)), "class": LINK_CLASS}
        tokens += [opening, _text(match.group(0), level + 1), Token("link_close", "a", -1)]
        position = match.end()
    if position < len(text):
        tokens.append(_text(text[position:], level))
    return tokens


def _text(content: str, level: int) -> Token:
    token = Token("text", "", 0, level=level)
    token.content = content
    return token


def hashtag_plugin(md: MarkdownIt) -> None:
    """markdown-it-py plugin: hashtags in text (not in links or code) link to their page."""
    # Before text_join: an escaped "\#" or an entity "&#35;" is still its own token then,
    # so it stays text, as the writer meant.
    md.core.ruler.before("text_join", "hashtags", _link_hashtags)
