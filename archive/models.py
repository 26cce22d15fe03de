from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from entries.markdown import render_markdown
from liveblog.validators import refuse_unstorable_text


class Summary(models.Model):
    """What an ended session came to, in a few lines written by an organiser or blogger."""

    session = models.OneToOneField(
        "talks.Session", on_delete=models.CASCADE, related_name="summary"
    )
    body = models.TextField(
        help_text="Markdown.",
        validators=[refuse_unstorable_text],
        error_messages={"blank": "Write the summary, or leave the page."},
    )
    html = models.TextField(editable=False)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "summaries"

    def __str__(self) -> str:
        return f"Summary of {self.session}"

    def save(self, *args, **kwargs) -> None:
        self.body = self.body.strip()
        self.html = render_markdown(self.body)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)
