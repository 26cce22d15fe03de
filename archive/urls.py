from django.contrib.sitemaps.views import sitemap
from django.urls import path

from archive import feeds, views
from archive.sitemaps import SITEMAPS

app_name = "archive"

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("embed/<slug:event>/<slug:slug>/", views.embed, name="embed"),
    path("events/<slug:event>/<slug:slug>/archive/", views.session_archive, name="session"),
    path("events/<slug:event>/<slug:slug>/quotes/", views.key_quotes, name="quotes"),
    path("events/<slug:event>/<slug:slug>/summary/", views.edit_summary, name="summary"),
    path("exports/<slug:slug>/", views.exports, name="exports"),
    path("exports/<slug:slug>/<str:format>/", views.export_download, name="export"),
    *[
        path(f"feeds/{kind.route}", feeds.feed_view(kind), name=f"{kind.name}_feed")
        for kind in feeds.FEEDS
    ],
]
