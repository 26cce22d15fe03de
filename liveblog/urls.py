from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, register_converter

from liveblog import views
from liveblog.api import api
from liveblog.ids import IdConverter

# `<id:pk>`: an id a bigint can hold, or no match (a 404) rather than a query that fails.
register_converter(IdConverter, "id")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", include("liveblog.health")),
    # Only names entries.photos writes: photos/<random key>/<width>w.<webp|jpg>.
    re_path(
        r"^media/(?P<path>photos/[0-9a-f]{32}/[0-9]{1,5}w\.(?:webp|jpg))$",
        views.media,
        name="media",
    ),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", views.api_not_found),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("", include("accounts.urls")),
    path("", include("events.urls")),
    path("", include("sessions.urls")),
    path("", include("entries.urls")),
    path("", include("questions.urls")),
    path("", include("organisers.urls")),
    path("", include("archive.urls")),
]

handler403 = views.permission_denied
handler500 = views.server_error
