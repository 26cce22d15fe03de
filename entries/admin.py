from django.contrib import admin

from entries.forms import EntryForm
from entries.models import Entry
from liveblog.adminlists import ModelAdmin


class AdminEntryForm(EntryForm):
    """The console's form and rules, with the session taken from the entry itself."""

    def __init__(self, *args, **kwargs) -> None:
        instance = kwargs.get("instance")
        super().__init__(*args, session=instance.session, **kwargs)


@admin.register(Entry)
class EntryAdmin(ModelAdmin):
    """Moderation: organisers correct or hide entries; readers see each change live."""

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
        "session__event",
        "session",
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
    actions = ["hide_entries", "mark_key_moments", "unmark_key_moments"]

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

    def save_model(self, request, obj: Entry, form, change: bool) -> None:
        form.save_entry()

    @admin.action(
        description="Hide (delete) the selected entries for readers", permissions=["change"]
    )
    def hide_entries(self, request, queryset) -> None:
        for entry in queryset.visible().select_related("session__event"):
            entry.soft_delete()
        self.message_user(request, "Entries hidden.")

    @admin.action(description="Mark as key moments", permissions=["change"])
    def mark_key_moments(self, request, queryset) -> None:
        for entry in queryset.visible().select_related("session__event"):
            entry.set_key_moment(True)

    @admin.action(description="Unmark key moments", permissions=["change"])
    def unmark_key_moments(self, request, queryset) -> None:
        for entry in queryset.visible().select_related("session__event"):
            entry.set_key_moment(False)
