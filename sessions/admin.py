from django.contrib import admin

from liveblog.adminlists import ModelAdmin
from sessions.models import Session, Speaker


@admin.register(Speaker)
class SpeakerAdmin(ModelAdmin):
    list_display = ["name", "affiliation", "link"]
    search_fields = ["name", "affiliation"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Session)
class SessionAdmin(ModelAdmin):
    list_display = ["title", "event", "room", "starts_at", "status", "blogger_names", "last_seq"]
    list_filter = ["status", "event", "room"]
    search_fields = ["title", "event__name", "speakers__name", "room"]
    list_select_related = ["event"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["speakers", "bloggers"]
    autocomplete_fields = ["event"]
    readonly_fields = ["last_seq", "status_seq"]
    date_hierarchy = "starts_at"
    # Each action asks for the change permission: without it, Django offers an action to
    # anyone who may view the list.
    actions = ["start_sessions", "end_sessions"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bloggers")

    @admin.display(description="Bloggers")
    def blogger_names(self, session: Session) -> str:
        return ", ".join(user.get_username() for user in session.bloggers.all()) or "—"

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        # Status changes go through set_status so readers are told.
        new_status = obj.status
        if change and "status" in form.changed_data:
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            obj.set_status(new_status)
        else:
            super().save_model(request, obj, form, change)

    @admin.action(description="Start the selected sessions (go live)", permissions=["change"])
    def start_sessions(self, request, queryset) -> None:
        changed = sum(session.set_status(Session.Status.LIVE) for session in queryset)
        self.message_user(request, f"{changed} session(s) started.")

    @admin.action(description="End the selected sessions", permissions=["change"])
    def end_sessions(self, request, queryset) -> None:
        changed = sum(session.set_status(Session.Status.ENDED) for session in queryset)
        self.message_user(request, f"{changed} session(s) ended.")
