"""The executions list's filters, shared by the executions page and `GET /api/executions/`.

Every filter is a query parameter, so a filtered view is a URL that can be shared:

    workflow=<id>[,<id>...]        one workflow or several
    status=error[,cancelled...]    one status or several
    version=3                      the workflow version number that ran
    startedAfter / startedBefore   ISO 8601 timestamps (createdAfter / createdBefore are the same)
    startedBy=alice                the user the execution ran as
    isTest=true|false|all          test runs; only production runs when left out
    input=orderId:42               a value in the input; repeat for several (all must match)

An input condition is `path:value`; the path may go into objects (`customer.id:7`), and
the value is read as JSON when it is JSON (`42`, `true`, `"42"`), else as text. A bare
number or boolean also matches the same text (`orderId:42` finds 42 and "42"). On
PostgreSQL it is a containment lookup (input @> '{"orderId": 42}') answered by the GIN
index of migration 0007.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import Execution, ExecutionStatus, Workflow
from .selectors import tenant_ids_for

ORDERINGS = {"-createdAt": ("-created_at", "-id"), "createdAt": ("created_at", "id")}
DEFAULT_ORDERING = "-createdAt"


@dataclass(frozen=True)
class InputMatch:
    """One input condition: the keys leading to a value, and the value."""

    path: tuple[str, ...]
    value: Any

    def as_text(self) -> str:
        return ".".join(self.path) + ":" + (self.value if isinstance(self.value, str) else json.dumps(self.value))


def parse_input_match(text: str) -> InputMatch:
    """`orderId:42` -> InputMatch(("orderId",), 42); ValueError naming the expected form."""
    key, sep, raw = text.partition(":")
    path = tuple(part.strip() for part in key.split("."))
    if not sep or not all(path):
        raise ValueError(f"{text!r}: use path:value, e.g. orderId:42 or customer.id:7")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, (dict, list)):
        raise ValueError(f"{text!r}: the value must be a string, number, boolean or null")
    return InputMatch(path=path, value=value)


def input_q(match: InputMatch) -> Q:
    """The lookup for one condition: containment on PostgreSQL, key extraction elsewhere."""
    values = [match.value]
    if isinstance(match.value, (int, float, bool)):
        values.append(json.dumps(match.value))  # orderId:42 also finds "42"
    query = Q()
    for value in values:
        if connection.vendor == "postgresql":
            nested: Any = value
            for key in reversed(match.path):
                nested = {key: nested}
            query |= Q(input__contains=nested)
        else:
            query |= Q(**{"input__" + "__".join(match.path): value})
    return query


class InputMatchField(forms.Field):
    """Every value of the repeated parameter, each parsed as an input condition."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        texts = [value] if isinstance(value, str) else list(value or [])
        matches = []
        for text in texts:
            if not text or not str(text).strip():
                continue
            try:
                matches.append(parse_input_match(str(text).strip()))
            except ValueError as exc:
                # As a parameter: the message quotes the value, and a % in it is no placeholder.
                raise forms.ValidationError("%(problem)s", params={"problem": str(exc)}) from None
        return matches


@extend_schema_field({"type": "array", "items": {"type": "string"}, "example": ["orderId:42"]})
class InputFilter(django_filters.Filter):
    field_class = InputMatchField

    def filter(self, qs: QuerySet, value) -> QuerySet:
        for match in value or []:
            qs = qs.filter(input_q(match))
        return qs


class WorkflowInFilter(django_filters.BaseInFilter, django_filters.UUIDFilter):
    """Workflow ids, kept to the caller's workflows first: an id of another tenant's workflow
    selects nothing at once, rather than scanning the caller's executions for it (the
    planner cannot know that a workflow's executions all belong to its tenant)."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        request = getattr(self.parent, "request", None)
        if request is not None:
            value = list(
                Workflow.objects.filter(pk__in=value, tenant_id__in=tenant_ids_for(request.user)).values_list(
                    "pk", flat=True
                )
            )
            if not value:
                return qs.none()
        return qs.filter(workflow_id__in=value)


class StatusInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    pass


IS_TEST_CHOICES = [("false", "Production runs"), ("true", "Test runs"), ("all", "Both")]


@extend_schema_field(OpenApiTypes.STR)
class IsTestFilter(django_filters.ChoiceFilter):
    def filter(self, qs: QuerySet, value) -> QuerySet:
        if value in ("", None, "all"):
            return qs
        return qs.filter(is_test=value == "true")


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 timestamp turned into UTC: Python accepts offsets up to ±23:59, PostgreSQL
    only up to ±15:59, so a query kept in its own offset could fail in the database."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a timestamp between the years 1 and 9999.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class ExecutionFilter(django_filters.FilterSet):
    workflow = WorkflowInFilter(field_name="workflow_id", help_text="Workflow id; several comma-separated")
    status = StatusInFilter(
        field_name="status", choices=ExecutionStatus.choices, help_text="One status or several, comma-separated"
    )
    version = django_filters.NumberFilter(
        field_name="workflow_version__number", min_value=1, help_text="The workflow version number that ran"
    )
    startedAfter = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Started at or after (ISO 8601)"
    )
    startedBefore = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="Started before (ISO 8601)")
    createdAfter = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="Same as startedAfter")
    createdBefore = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="Same as startedBefore")
    startedBy = django_filters.CharFilter(field_name="run_as__username", help_text="Username the execution ran as")
    isTest = IsTestFilter(
        choices=IS_TEST_CHOICES,
        empty_label=None,
        help_text="true: only test runs; all: both; default (false): only production runs",
    )
    input = InputFilter(
        help_text='A value in the input as path:value (orderId:42, customer.id:7, status:"open"); repeat for several'
    )

    class Meta:
        model = Execution
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            if not data.get("isTest"):
                data["isTest"] = "false"  # test runs stay out of the list unless asked for
        super().__init__(data, *args, **kwargs)


def ordering_for(value: str | None) -> tuple[str, ...]:
    """The model ordering of an `ordering` parameter; ValueError for an unknown one."""
    if not value:
        return ORDERINGS[DEFAULT_ORDERING]
    if value not in ORDERINGS:
        raise ValueError(f"use {' or '.join(ORDERINGS)}")
    return ORDERINGS[value]
