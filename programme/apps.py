from django.apps import AppConfig


class ProgrammeConfig(AppConfig):
    """Importing a conference programme (frab XML, pretalx JSON, iCalendar, CSV)."""

    name = "programme"
    verbose_name = "Programme import"
