"""The node catalog: every node type with its fields, and the dynamic options of a field."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..nodes import registry
from ..options import has_dynamic_options, options_for
from ..plugins import integration_definitions
from ..selectors import tenant_ids_for


def node_catalog_entry(node_type) -> dict:
    data = node_type.as_dict()
    for field, shown in zip(node_type.fields, data["configFields"]):
        if has_dynamic_options(field):
            shown["optionsUrl"] = f"/api/nodes/{node_type.type}/options/{field.key}/"
    return data


class NodeCatalogView(APIView):
    """Every node type (built-in and plugin) with its config fields, and the plugins' integrations."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "NodeCatalog", {"nodes": serializers.ListField(), "integrations": serializers.ListField()}
            )
        }
    )
    def get(self, request):
        return Response(
            {
                "nodes": [node_catalog_entry(t) for t in registry.all()],
                "integrations": [d.as_dict() for d in integration_definitions().values()],
            }
        )


class OptionsRequest(serializers.Serializer):
    config = serializers.JSONField(required=False, default=dict)
    tenant = serializers.UUIDField(required=False, allow_null=True)

    def validate_config(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class NodeOptionsView(APIView):
    """The options of one config field for the config being edited: {"options": [{value, label}]}.
    Give `tenant` (the workflow's) to list only integrations of that tenant."""

    @extend_schema(
        request=OptionsRequest, responses={200: inline_serializer("NodeOptions", {"options": serializers.ListField()})}
    )
    def post(self, request, action_id: str, field_key: str):
        body = OptionsRequest(data=request.data)
        body.is_valid(raise_exception=True)
        tenant = body.validated_data.get("tenant")
        if tenant is not None and tenant not in tenant_ids_for(request.user):
            raise serializers.ValidationError({"tenant": ["not a tenant you belong to"]})
        options = options_for(
            action_id, field_key, config=body.validated_data["config"], user=request.user, tenant=tenant
        )
        return Response({"options": options})
