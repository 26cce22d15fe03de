from django.urls import path

from sessions import views

app_name = "talks"

urlpatterns = [
    path("speakers/<slug:slug>/", views.speaker, name="speaker"),
]
