from django import forms
from django.contrib import admin

from events.models import TIME_ZONE_CHOICES, Event
from liveblog.adminlists import ModelAdmin
from sessions.models import Session


class SessionInline(admin.TabularInline):
    model = Session
    fields = ["title", "slug", "room", "starts_at", "ends_at", "status"]
    prepopulated_fields = {"slug": ["title"]}
    extra = 0
    show_change_link = True


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ["name", "city", "starts_on", "ends_on", "hashtag", "time_zone"]
    list_filter = ["city", "starts_on"]
    search_fields = ["name", "city", "hashtag", "series_hashtag"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "starts_on"
    inlines = [SessionInline]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            return forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC", label="Time zone")
        return super().formfield_for_dbfield(db_field, request, **kwargs)
