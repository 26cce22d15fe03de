from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ArchiveConfig(AppConfig):
    """What a liveblog becomes afterwards: search, exports, feeds, structured data, embeds."""

    name = "archive"
    verbose_name = "Archive"

    def ready(self) -> None:
        from archive import search

        # A later migration that rebuilds entries_entry on SQLite drops its triggers with
        # the old table; put them back (and refill the index) after every migrate.
        post_migrate.connect(search.ensure_index, sender=self)
