from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_migrate


def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    from entries import broadcast

    if user is not None:
        broadcast.user_signed_out(user.pk)


class EntriesConfig(AppConfig):
    name = "entries"
    verbose_name = "Entries"

    def ready(self) -> None:
        from entries.roles import ensure_groups

        # Groups need the permissions, which Django creates after migrating.
        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="entries.ensure_groups")
        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="entries.close_sockets")
