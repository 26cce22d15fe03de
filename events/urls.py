from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("events/<slug:slug>/", views.detail, name="detail"),
]
