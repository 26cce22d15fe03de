from django.apps import AppConfig


class SessionsConfig(AppConfig):
    """Talks and panels. django.contrib.sessions owns the label "sessions", so ours is "talks"."""

    name = "sessions"
    label = "talks"
    verbose_name = "Sessions and speakers"
