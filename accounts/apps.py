from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Who people are here: roles (groups), personal API tokens, the profile page."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.roles import ensure_groups

        # Groups need the other apps' permissions, which Django creates after migrating
        # each app: accounts is listed last in INSTALLED_APPS, so theirs exist by now.
        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="accounts.ensure_groups")
