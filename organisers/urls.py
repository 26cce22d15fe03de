from django.urls import path

from organisers import audit, imports, people, views

app_name = "organisers"

urlpatterns = [
    path("organise/", views.events, name="events"),
    path("organise/<slug:slug>/", views.event, name="event"),
    path("organise/<slug:slug>/dashboard/", views.event_dashboard, name="dashboard"),
    path("organise/<slug:slug>/sessions/new/", views.session_form, name="session_new"),
    path("organise/<slug:slug>/sessions/<id:pk>/", views.session_form, name="session"),
    path("organise/<slug:slug>/sessions/<id:pk>/status/", views.session_status, name="status"),
    path(
        "organise/<slug:slug>/sessions/<id:pk>/bloggers/",
        people.assign_session_blogger,
        name="session_assign",
    ),
    path(
        "organise/<slug:slug>/sessions/<id:pk>/bloggers/<id:user_id>/remove/",
        people.remove_session_blogger,
        name="session_unassign",
    ),
    path("organise/<slug:slug>/speakers/", views.speakers, name="speakers"),
    path("organise/<slug:slug>/speakers/<id:pk>/", views.speaker, name="speaker"),
    path("organise/<slug:slug>/bloggers/", people.bloggers, name="bloggers"),
    path(
        "organise/<slug:slug>/bloggers/<id:user_id>/remove/",
        people.remove_event_blogger,
        name="event_unassign",
    ),
    path(
        "organise/<slug:slug>/bloggers/<id:user_id>/invite/",
        people.invite_again,
        name="invite_again",
    ),
    path("organise/<slug:slug>/audit/", audit.audit, name="audit"),
    path("organise/<slug:slug>/import/", imports.upload, name="import"),
    path("organise/<slug:slug>/import/apply/", imports.confirm, name="import_apply"),
    path("invitation/<str:uidb64>/<str:token>/", people.invitation, name="invitation"),
]
