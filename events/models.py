from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

# Offered in forms, not stored in migrations: the list follows the machine's tz database.
TIME_ZONE_CHOICES = sorted(
    (tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz or tz == "UTC"
)

hashtag_validator = RegexValidator(
    r"^#?\w+$", "A hashtag is one word of letters, digits or underscores, e.g. #SMWLDN."
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/London.")


class Series(models.Model):
    """Events that run together in several cities, e.g. Social Media Week 2026."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    hashtag = models.CharField(
        max_length=64,
        blank=True,
        validators=[hashtag_validator],
        help_text="The international hashtag shared by every city, e.g. #SMW.",
    )
    # Organisers of the series organise every one of its events.
    organisers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organised_series"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("entries:series", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.hashtag and not self.hashtag.startswith("#"):
            self.hashtag = f"#{self.hashtag}"


class EventQuerySet(models.QuerySet["Event"]):
    def organised_by(self, user) -> EventQuerySet:
        """The events this user may run: theirs, their series' and, for a superuser, all."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        ids = self.filter(Q(organisers=user) | Q(series__organisers=user)).values("pk")
        return self.filter(pk__in=ids)


class Event(models.Model):
    """A conference or festival week in one city, e.g. Social Media Week London."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    city = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="An IANA time zone name, e.g. Europe/London: times show in it.",
    )
    hashtag = models.CharField(
        max_length=64, blank=True, validators=[hashtag_validator], help_text="The local hashtag."
    )
    series_hashtag = models.CharField(
        max_length=64,
        blank=True,
        validators=[hashtag_validator],
        help_text="The international hashtag shared by every city in the series.",
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    description = models.TextField(blank=True)
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    # Who runs this event (besides the series' organisers and superusers): see organises().
    organisers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organised_events"
    )

    # Bloggers of the whole event: they may blog every one of its sessions.
    bloggers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="blogged_events"
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("events:detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "An event cannot end before it starts."})
        for field in ("hashtag", "series_hashtag"):
            value = getattr(self, field)
            if value and not value.startswith("#"):
                setattr(self, field, f"#{value}")


def organises(user, event: Event | None) -> bool:
    """May this user run the event: its organiser, its series' organiser, or a superuser.

    The one question every guard asks (sessions.Session.can_blog and closed_to, entries'
    permissions, the admin, the organisers' pages): an organiser of London is nobody in
    New York.
    """
    if event is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Event.objects.organised_by(user).filter(pk=event.pk).exists()
