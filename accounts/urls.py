from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/tokens/<id:pk>/revoke/", views.revoke_token, name="revoke_token"),
]
