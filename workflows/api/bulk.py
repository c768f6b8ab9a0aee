"""Bulk operations: one operator action on a filtered set of executions, with a count to
confirm first and progress while the workers act on it in batches."""

from __future__ import annotations

from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .. import operations
from ..exceptions import InvalidState
from ..filters import ExecutionFilter
from ..models import BulkOperation
from ..selectors import executions_for, tenant_ids_for
from .serializers import (
    BulkCountSerializer,
    BulkOperationRequestSerializer,
    BulkOperationSerializer,
    ErrorSerializer,
)
from .views import choose_tenant


def as_query(filters: dict) -> QueryDict:
    """The filters of a request body as the list's query parameters."""
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        if isinstance(value, list):
            query.setlist(key, [str(v) for v in value])
        elif value is not None:
            query[key] = "true" if value is True else "false" if value is False else str(value)
    return query


class BulkOperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Bulk cancel or retry of the executions a filter selects. POST with `dryRun` answers the
    count to confirm; without it the set is fixed (at most WORKFLOW_BULK_MAX) and the workers
    act on it in batches: GET the operation for its progress."""

    serializer_class = BulkOperationSerializer
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return BulkOperation.objects.filter(tenant_id__in=tenant_ids_for(self.request.user))

    @extend_schema(
        request=BulkOperationRequestSerializer,
        responses={200: BulkCountSerializer, 202: BulkOperationSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def create(self, request):
        body = BulkOperationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        tenant = choose_tenant(request, data.get("tenant"))
        filterset = ExecutionFilter(
            as_query(data["filters"]), queryset=executions_for(request.user).filter(tenant=tenant)
        )
        if not filterset.is_valid():
            raise ValidationError({f"filters.{k}": v for k, v in filterset.errors.items()})
        targets = operations.bulk_targets(filterset.qs, data["action"])
        if data["dryRun"]:
            return Response(BulkCountSerializer({"action": data["action"], "count": targets.count()}).data)
        if data.get("expectedCount") is not None:
            count = targets.count()
            if count != data["expectedCount"]:
                raise InvalidState(
                    f"{count} executions match now, not {data['expectedCount']}; count again", field="expectedCount"
                )
        operation = operations.start_bulk(
            tenant=tenant,
            user=request.user,
            action=data["action"],
            reason=data.get("reason", ""),
            targets=targets.order_by("created_at"),
            filters=data["filters"],
        )
        return Response(BulkOperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED)
