from django.urls import path

from archive import views

app_name = "archive"

urlpatterns = [
    path("search/", views.search_page, name="search"),
]
