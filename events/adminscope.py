"""The admin, scoped: an organiser sees and changes only the events they run.

Every ModelAdmin of something that belongs to an event (the event, its sessions, their
entries) derives from OrganisedAdmin and names the path from its model to the event.
The group's model permissions (accounts.roles) open the admin's pages; this narrows them
to the organiser's own events, per list and per object, so that an organiser of London
cannot see, change or act on New York's sessions or entries. Superusers see everything.
"""

from __future__ import annotations

from django.db.models import Model

from events.models import Event, organises
from liveblog.adminlists import ModelAdmin


class OrganisedAdmin(ModelAdmin):
    # The lookup from the model to its Event ("" for Event itself).
    event_path = "event"

    def event_of(self, obj: Model) -> Event | None:
        for part in filter(None, self.event_path.split("__")):
            obj = getattr(obj, part)
        return obj

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        events = Event.objects.organised_by(request.user).values("pk")
        lookup = f"{self.event_path}__pk__in" if self.event_path else "pk__in"
        return queryset.filter(**{lookup: events})

    def _organises(self, request, obj: Model | None) -> bool:
        return obj is None or organises(request.user, self.event_of(obj))

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) and self._organises(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._organises(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._organises(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A new session goes only into an event the organiser runs.
        if db_field.related_model is Event and not request.user.is_superuser:
            kwargs["queryset"] = Event.objects.organised_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
