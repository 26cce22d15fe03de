"""The per-minute audience history (realtime/audience.py writes it, the dashboard reads it)."""

from __future__ import annotations

from django.db import models


class AudienceMinute(models.Model):
    """How many readers followed a session during one minute, across every worker.

    `readers` is the count at the minute's last sample, `peak` the most at once in any
    sample of that minute (samples are taken every AUDIENCE_TICK_SECONDS). A minute no one
    followed has no row.
    """

    session = models.ForeignKey(
        "talks.Session", on_delete=models.CASCADE, related_name="audience_minutes"
    )
    minute = models.DateTimeField(help_text="The minute's start (UTC).")
    readers = models.PositiveIntegerField()
    peak = models.PositiveIntegerField()

    class Meta:
        ordering = ["session", "minute"]
        constraints = [
            models.UniqueConstraint(fields=["session", "minute"], name="audience_minute_once")
        ]

    def __str__(self) -> str:
        return f"{self.session_id} {self.minute:%Y-%m-%d %H:%M}: {self.readers} (peak {self.peak})"
