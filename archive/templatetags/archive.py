"""Tags the reader pages of lower apps load by name: feed links and structured data."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from archive import structured
from archive.feeds import BY_MODEL

register = template.Library()


@register.simple_tag
def feed_url(obj) -> str:
    kind = BY_MODEL[type(obj)]
    return reverse(f"archive:{kind.name}_feed", kwargs=kind.url_kwargs(obj))


@register.simple_tag
def feed_link(obj) -> str:
    """<link rel="alternate"> to the object's Atom feed."""
    kind = BY_MODEL[type(obj)]
    return format_html(
        '<link rel="alternate" type="application/atom+xml" title="{}" href="{}">',
        kind.title(obj),
        feed_url(obj),
    )


@register.simple_tag(takes_context=True)
def live_blog_posting(context, session, entries) -> str:
    """The session's schema.org LiveBlogPosting as JSON-LD, its updates those on the page."""
    request = context["request"]
    return structured.json_ld(
        structured.live_blog_posting(session, entries, request.build_absolute_uri)
    )


@register.filter
def plain(html: str) -> str:
    return structured.plain(html)


@register.simple_tag(takes_context=True)
def absolute(context, path: str) -> str:
    """The path as a full URL on this site, for canonical links and link previews."""
    return context["request"].build_absolute_uri(path)


@register.simple_tag
def minute_into(entry, session) -> int:
    from archive.formats import minute_into as minute

    return minute(entry, session)


@register.simple_tag(takes_context=True)
def quote_blocks(context, entry) -> dict:
    from archive.quoting import quote_blocks as blocks

    return blocks(entry, context["request"].build_absolute_uri)
