from django.urls import path

from entries import archive, views

app_name = "entries"

urlpatterns = [
    path("events/<slug:event>/<slug:slug>/", views.session_page, name="session"),
    path("events/<slug:event>/<slug:slug>/entries/<id:pk>/", views.entry_page, name="entry"),
    path("events/<slug:event>/<slug:slug>/console/", views.console, name="console"),
    path("events/<slug:event>/<slug:slug>/console/entries/", views.create, name="create"),
    # Its body limit is raised alone (liveblog.middleware.PHOTO_PATHS, deploy/Caddyfile).
    path(
        "events/<slug:event>/<slug:slug>/console/photos/",
        views.create_photo,
        name="create_photo",
    ),
    path("events/<slug:event>/<slug:slug>/status/", views.set_status, name="status"),
    path("entries/<id:pk>/edit/", views.edit, name="edit"),
    path("entries/<id:pk>/console/", views.console_entry, name="console_entry"),
    path("entries/<id:pk>/delete/", views.delete, name="delete"),
    path("entries/<id:pk>/restore/", views.restore, name="restore"),
    path("entries/<id:pk>/key-moment/", views.key_moment, name="key_moment"),
    path("entries/<id:pk>/pin/", views.moderate, {"flag": "pin"}, name="pin"),
    path("entries/<id:pk>/feature/", views.moderate, {"flag": "feature"}, name="feature"),
    path("entries/<id:pk>/history/", views.history, name="history"),
    path(
        "entries/<id:pk>/history/<id:revision>/restore/",
        views.restore_revision,
        name="restore_revision",
    ),
    path("tags/<str:tag>/", archive.tag_page, name="tag"),
    path("series/<slug:slug>/", archive.series_page, name="series"),
    path("series/<slug:slug>/live.json", archive.series_live, name="series_live"),
]
