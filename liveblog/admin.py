"""The programme in Django's admin: events with their sessions, and sessions.

At the project level because it spans apps: a session's status is part of its stream, so
it changes only through entries.actions (the admin's start and end actions), and the
session forms show it read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from entries import actions
from events.adminscope import OrganisedAdmin
from events.models import TIME_ZONE_CHOICES, Event, Series
from liveblog.adminlists import ModelAdmin
from sessions.models import Session


class SessionInline(admin.TabularInline):
    model = Session
    fields = ["title", "slug", "room", "starts_at", "ends_at", "status"]
    readonly_fields = ["status"]
    prepopulated_fields = {"slug": ["title"]}
    extra = 0
    show_change_link = True


@admin.register(Series)
class SeriesAdmin(ModelAdmin):
    list_display = ["name", "hashtag"]
    search_fields = ["name", "hashtag"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["organisers"]

    # A series is the superuser's to create and staff; its organisers may correct it.
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(organisers=request.user)

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["organisers"]


@admin.register(Event)
class EventAdmin(OrganisedAdmin):
    event_path = ""
    list_display = ["name", "city", "series", "starts_on", "ends_on", "hashtag", "time_zone"]
    list_filter = [("series", admin.RelatedOnlyFieldListFilter), "city", "starts_on"]
    filter_horizontal = ["organisers"]
    search_fields = ["name", "city", "hashtag", "series_hashtag"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "starts_on"
    inlines = [SessionInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            return forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC", label="Time zone")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "series" and not request.user.is_superuser:
            kwargs["queryset"] = Series.objects.filter(organisers=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Whoever creates an event runs it (or they could not see what they made).
        if not change and not request.user.is_superuser:
            form.instance.organisers.add(request.user)


@admin.register(Session)
class SessionAdmin(OrganisedAdmin):
    list_display = ["title", "event", "room", "starts_at", "status", "blogger_names", "last_seq"]
    list_filter = ["status", ("event", admin.RelatedOnlyFieldListFilter), "room"]
    search_fields = ["title", "event__name", "speakers__name", "room"]
    list_select_related = ["event"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["speakers", "bloggers"]
    autocomplete_fields = ["event"]
    readonly_fields = ["status", "last_seq", "status_seq"]
    date_hierarchy = "starts_at"
    # Each action asks for the change permission: without it, Django offers an action to
    # anyone who may view the list.
    actions = ["start_sessions", "end_sessions"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bloggers")

    @admin.display(description="Bloggers")
    def blogger_names(self, session: Session) -> str:
        return ", ".join(user.get_username() for user in session.bloggers.all()) or "—"

    @admin.action(description="Start the selected sessions (go live)", permissions=["change"])
    def start_sessions(self, request, queryset) -> None:
        self._set_status(request, queryset, Session.Status.LIVE, "started")

    @admin.action(description="End the selected sessions", permissions=["change"])
    def end_sessions(self, request, queryset) -> None:
        self._set_status(request, queryset, Session.Status.ENDED, "ended")

    def _set_status(self, request, queryset, status: str, done: str) -> None:
        changed = 0
        for session in queryset.select_related("event"):
            try:
                changed += actions.set_session_status(
                    session=session, status=status, by=request.user
                )
            except actions.StreamRefused as refusal:
                self.message_user(request, f"{session}: {refusal}", messages.WARNING)
        self.message_user(request, f"{changed} session(s) {done}.")
