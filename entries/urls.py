from django.urls import path

from entries import views

app_name = "entries"

urlpatterns = [
    path("events/<slug:event>/<slug:slug>/", views.session_page, name="session"),
    path("events/<slug:event>/<slug:slug>/entries/<int:pk>/", views.entry_page, name="entry"),
    path("events/<slug:event>/<slug:slug>/console/", views.console, name="console"),
    path("events/<slug:event>/<slug:slug>/console/entries/", views.create, name="create"),
    path("entries/<int:pk>/edit/", views.edit, name="edit"),
    path("entries/<int:pk>/console/", views.console_entry, name="console_entry"),
    path("entries/<int:pk>/delete/", views.delete, name="delete"),
    path("entries/<int:pk>/key-moment/", views.key_moment, name="key_moment"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
]
