"""The admin's change lists, made to answer bad filter values as bad, not as a 500."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList as DjangoChangeList


class ChangeList(DjangoChangeList):
    def get_filters(self, request):
        # The date hierarchy builds datetime(year, month, day) from the query string and
        # catches only ValueError: a year past 2^63 is an OverflowError, and year 9999
        # overflows when the list works out where the year ends. Either is a bad filter,
        # which the admin answers with its "?e=1" page, like any other.
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


class ModelAdmin(admin.ModelAdmin):
    """The base of every ModelAdmin of ours."""

    def get_changelist(self, request, **kwargs):
        return ChangeList
