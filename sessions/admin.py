from django.contrib import admin

from liveblog.adminlists import ModelAdmin
from sessions.models import Speaker


@admin.register(Speaker)
class SpeakerAdmin(ModelAdmin):
    list_display = ["name", "affiliation", "link"]
    search_fields = ["name", "affiliation"]
    prepopulated_fields = {"slug": ["name"]}
