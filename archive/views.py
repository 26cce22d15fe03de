from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from archive import search
from archive.forms import SearchForm

RESULTS_PER_PAGE = 20


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """The readers' search: results with their words highlighted, filters kept in the URL."""
    form = SearchForm(request.GET or None)
    hits: list[search.Hit] = []
    more = False
    page = _page_number(request.GET.get("page"))
    status = 200
    if form.is_bound and form.is_valid():
        try:
            query = form.query()
            hits, more = search.search(
                query, limit=RESULTS_PER_PAGE, offset=(page - 1) * RESULTS_PER_PAGE
            )
        except search.SearchError:
            status = 400
    elif form.is_bound:
        status = 400
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "archive/search.html",
        {
            "form": form,
            "hits": hits,
            "searched": form.is_bound and not form.errors and bool(form.cleaned_data.get("q")),
            "page": page,
            "next_page": page + 1 if more else None,
            "previous_page": page - 1 if page > 1 else None,
            "params": params.urlencode(),
        },
        status=status,
    )


def _page_number(value: str | None) -> int:
    if value and value.isascii() and value.isdigit() and len(value) < 4:
        return max(1, min(int(value), search.MAX_OFFSET // RESULTS_PER_PAGE))
    return 1
