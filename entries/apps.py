from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EntriesConfig(AppConfig):
    name = "entries"
    verbose_name = "Entries"

    def ready(self) -> None:
        from entries.roles import ensure_groups

        # Groups need the permissions, which Django creates after migrating.
        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="entries.ensure_groups")
