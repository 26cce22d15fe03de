from django.urls import path

from questions import views

app_name = "questions"

urlpatterns = [
    path("events/<slug:event>/<slug:slug>/questions/", views.ask, name="ask"),
    path("events/<slug:event>/<slug:slug>/console/questions/", views.queue, name="queue"),
    path("questions/<id:pk>/approve/", views.approve, name="approve"),
    path("questions/<id:pk>/reject/", views.reject, name="reject"),
]
