from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
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
