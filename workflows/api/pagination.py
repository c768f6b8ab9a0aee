"""Cursor pagination of the executions list: a page is found by position, never by offset,
so it stays fast deep into a large table and stable while new executions arrive."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

from ..filters import ordering_for


class ExecutionCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        try:
            return ordering_for(request.query_params.get("ordering"))
        except ValueError as exc:
            raise ValidationError({"ordering": [str(exc)]}) from None
