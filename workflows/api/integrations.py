"""Integrations of the signed-in user; credentials are accepted, never returned."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from .. import integrations as services
from ..models import Integration
from .views import choose_tenant


class IntegrationSerializer(serializers.ModelSerializer):
    tenant = serializers.UUIDField(source="tenant_id", required=False)
    type = serializers.CharField(max_length=100)
    credentials = serializers.JSONField(write_only=True, required=True)
    credentialKeys = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Integration
        fields = ["id", "tenant", "type", "name", "credentials", "credentialKeys", "createdAt", "updatedAt"]
        read_only_fields = ["id"]

    def get_credentialKeys(self, obj: Integration) -> list[str]:
        return services.credential_keys(obj)


class IntegrationUpdateSerializer(IntegrationSerializer):
    type = serializers.CharField(read_only=True)
    credentials = serializers.JSONField(write_only=True, required=False)


class IntegrationViewSet(viewsets.ModelViewSet):
    """Your integrations: create with credentials; afterwards only their names are shown."""

    queryset = Integration.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return services.integrations_for(self.request.user).order_by("name", "pk")

    def get_serializer_class(self):
        return IntegrationUpdateSerializer if self.action in ("update", "partial_update") else IntegrationSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_integration(
            tenant=choose_tenant(self.request, data.get("tenant_id")),
            owner=self.request.user,
            type=data["type"],
            name=data["name"],
            credentials=data["credentials"],
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        if "tenant_id" in data and data["tenant_id"] != serializer.instance.tenant_id:
            raise serializers.ValidationError({"tenant": ["an integration cannot move to another tenant"]})
        serializer.instance = services.update_integration(
            serializer.instance, name=data.get("name"), credentials=data.get("credentials")
        )
