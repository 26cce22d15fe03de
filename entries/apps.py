from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_migrate


def note_sign_out(sender, request, user, **kwargs) -> None:
    """Remember the sign-in that is ending: SignedOutSocketsMiddleware closes its sockets.

    Django sends user_logged_out before it flushes the session, so closing them here would
    let a page reconnect while the old session still answers.
    """
    if user is not None and request is not None and getattr(request, "session", None):
        request.signed_out_session_key = request.session.session_key


class EntriesConfig(AppConfig):
    name = "entries"
    verbose_name = "Entries"

    def ready(self) -> None:
        from entries.roles import ensure_groups

        # Groups need the permissions, which Django creates after migrating.
        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="entries.ensure_groups")
        user_logged_out.connect(note_sign_out, dispatch_uid="entries.note_sign_out")
