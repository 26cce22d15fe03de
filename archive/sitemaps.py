"""/sitemap.xml: events, sessions and speakers (django.contrib.sitemaps)."""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.db.models import Max

from events.models import Event
from sessions.models import Session, Speaker


class EventSitemap(Sitemap):
    changefreq = "daily"

    def items(self):
        return Event.objects.order_by("pk")


class SessionSitemap(Sitemap):
    changefreq = "hourly"

    def items(self):
        return (
            Session.objects.select_related("event")
            .annotate(last_entry=Max("entries__updated_at"))
            .order_by("pk")
        )

    def lastmod(self, session):
        return session.last_entry


class SpeakerSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Speaker.objects.order_by("pk")


SITEMAPS = {"events": EventSitemap, "sessions": SessionSitemap, "speakers": SpeakerSitemap}
