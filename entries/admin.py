from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from entries import actions
from entries.forms import EntryForm
from entries.models import Entry
from events.adminscope import OrganisedAdmin


class AdminEntryForm(EntryForm):
    """The console's form and rules, with the session taken from the entry itself."""

    def __init__(self, *args, **kwargs) -> None:
        instance = kwargs.get("instance")
        super().__init__(*args, session=instance.session, **kwargs)


@admin.register(Entry)
class EntryAdmin(OrganisedAdmin):
    """Moderation: organisers correct or hide their events' entries; readers see it live."""

    event_path = "session__event"

    form = AdminEntryForm
    list_display = [
        "__str__",
        "session",
        "kind",
        "author",
        "attribution_display",
        "key_moment",
        "created_at",
        "is_visible",
    ]
    list_filter = [
        "kind",
        "key_moment",
        ("deleted_at", admin.EmptyFieldListFilter),
        # Only the events and sessions in the (organiser's) list, never every one.
        ("session__event", admin.RelatedOnlyFieldListFilter),
        ("session", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "body",
        "attribution_name",
        "attribution_speaker__name",
        "author__username",
        "session__title",
    ]
    list_select_related = ["session", "author", "attribution_speaker"]
    readonly_fields = [
        "session",
        "author",
        "created_at",
        "updated_at",
        "deleted_at",
        "seq",
        "created_seq",
        "html",
    ]
    date_hierarchy = "created_at"
    # Each action asks for the change permission: without it, Django offers an action to
    # anyone who may view the list.
    actions = ["hide_entries", "restore_entries", "mark_key_moments", "unmark_key_moments"]

    def has_add_permission(self, request) -> bool:
        return False  # entries are posted from a session's console, with an author and a session

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # hiding (soft deletion) keeps every reader's stream consistent

    @admin.display(description="Attribution")
    def attribution_display(self, entry: Entry) -> str:
        return entry.attribution or "—"

    @admin.display(description="Visible", boolean=True)
    def is_visible(self, entry: Entry) -> bool:
        return not entry.is_deleted

    def get_readonly_fields(self, request, obj: Entry | None = None):
        # Hidden stays hidden: a hidden entry is read-only here; "Restore" brings it back.
        if obj is not None and obj.is_deleted:
            return [*self.readonly_fields, *EntryForm.Meta.fields]
        return self.readonly_fields

    def save_model(self, request, obj: Entry, form, change: bool) -> None:
        # Through the stream's actions, so readers see the edit live and in catch-up.
        if obj.is_deleted:
            self.message_user(request, "A hidden entry is read-only: restore it first.")
            return
        try:
            form.apply_edit(by=request.user)
        except (actions.StreamRefused, ValidationError) as refusal:
            self.message_user(request, f"Not saved: {refusal}", messages.ERROR)

    @admin.action(
        description="Hide (delete) the selected entries for readers", permissions=["change"]
    )
    def hide_entries(self, request, queryset):
        """Asks for the reason first (the audit log keeps it), as delete_selected asks."""
        entries = list(queryset.visible().select_related("session__event", "author"))
        error = ""
        if request.POST.get("confirm") == "yes":
            try:
                reason = actions.clean_reason(
                    request.POST.get("reason", ""),
                    required=any(entry.author_id != request.user.pk for entry in entries),
                )
            except actions.ReasonRefused as refusal:
                error = str(refusal)
            else:
                hidden = sum(
                    actions.hide_entry(entry=entry, by=request.user, reason=reason)
                    for entry in entries
                )
                self.message_user(request, f"{hidden} entries hidden.")
                return None
        return TemplateResponse(
            request,
            "admin/entries/entry/hide_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": "Hide entries: why?",
                "entries": entries,
                "opts": self.model._meta,
                "error": error,
                "reason": request.POST.get("reason", ""),
                "reason_max": actions.REASON_MAX_LENGTH,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
            status=422 if error else 200,
        )

    @admin.action(description="Restore the selected hidden entries", permissions=["change"])
    def restore_entries(self, request, queryset) -> None:
        restored = sum(
            actions.restore_entry(entry=entry, by=request.user)
            for entry in queryset.filter(deleted_at__isnull=False).select_related("session__event")
        )
        self.message_user(request, f"{restored} entries restored.")

    @admin.action(description="Mark as key moments", permissions=["change"])
    def mark_key_moments(self, request, queryset) -> None:
        self._set_key_moments(queryset, True)

    @admin.action(description="Unmark key moments", permissions=["change"])
    def unmark_key_moments(self, request, queryset) -> None:
        self._set_key_moments(queryset, False)

    def _set_key_moments(self, queryset, value: bool) -> None:
        for entry in queryset.visible().select_related("session__event"):
            actions.set_key_moment(entry=entry, value=value)
