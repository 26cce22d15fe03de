from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


def note_sign_out(sender, request, user, **kwargs) -> None:
    """Remember the sign-in that is ending: SignedOutSocketsMiddleware closes its sockets.

    Django sends user_logged_out before it flushes the session, so closing them here would
    let a page reconnect while the old session still answers.
    """
    if user is not None and request is not None and getattr(request, "session", None):
        request.signed_out_session_key = request.session.session_key


class RealtimeConfig(AppConfig):
    """What reaches readers live: broadcasting, the per-process hub, the reader's socket."""

    name = "realtime"
    verbose_name = "Real time"

    def ready(self) -> None:
        user_logged_out.connect(note_sign_out, dispatch_uid="realtime.note_sign_out")
