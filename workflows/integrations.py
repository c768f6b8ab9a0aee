"""Integrations: a user's credentials for a plugin's service, encrypted at rest.

Writes (create, update, delete), the check every trigger runs (a workflow may only use
integrations its run-as user owns) and the resolver the worker calls for a step's credentials.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .encryption import decrypt_json, encrypt_json
from .exceptions import InvalidInput, InvalidIntegrationReferences
from .models import Integration, Tenant, WorkflowVersion
from .nodes import NodeError, registry
from .plugins import INTEGRATION_FIELD, IntegrationDefinition, integration_definitions


def _definition(type_: str) -> IntegrationDefinition:
    definition = integration_definitions().get(type_) if isinstance(type_, str) else None
    if definition is None:
        known = ", ".join(sorted(integration_definitions())) or "none"
        raise InvalidInput(f"unknown integration type {type_!r}; configured: {known}", field="type")
    return definition


def clean_credentials(definition: IntegrationDefinition, credentials: Any) -> dict:
    """The credentials limited to the integration's form fields; every required one present."""
    if not isinstance(credentials, dict):
        raise InvalidInput("credentials must be an object", field="credentials")
    keys = {f.key: f for f in definition.form_fields}
    unknown = sorted(set(credentials) - set(keys))
    if unknown:
        raise InvalidInput(f"unknown credential fields: {', '.join(unknown)}", field="credentials")
    for key, form_field in keys.items():
        value = credentials.get(key)
        if form_field.required and (value is None or value == ""):
            raise InvalidInput(f"{form_field.label} is required", field=f"credentials.{key}")
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{form_field.label} must be text", field=f"credentials.{key}")
    return {k: v for k, v in credentials.items() if v is not None}


def create_integration(*, tenant: Tenant, owner, type: str, name: str, credentials: dict) -> Integration:
    """Store a new integration with its credentials encrypted."""
    definition = _definition(type)
    cleaned = clean_credentials(definition, credentials)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name is required", field="name")
    return Integration.objects.create(
        tenant=tenant, owner=owner, type=definition.type, name=name.strip(), credentials_encrypted=encrypt_json(cleaned)
    )


def update_integration(
    integration: Integration, *, name: str | None = None, credentials: dict | None = None
) -> Integration:
    """Rename, or replace the credentials (they are never merged with the stored ones)."""
    with transaction.atomic():
        if name is not None:
            if not name.strip():
                raise InvalidInput("name may not be empty", field="name")
            integration.name = name.strip()
        if credentials is not None:
            cleaned = clean_credentials(_definition(integration.type), credentials)
            integration.credentials_encrypted = encrypt_json(cleaned)
        integration.save()
    return integration


def integrations_for(user):
    """The integrations a user owns, in the tenants they belong to."""
    return Integration.objects.filter(owner=user, tenant__memberships__user=user)


def credential_keys(integration: Integration) -> list[str]:
    """Which credentials are stored (their names only; the values never leave the server).
    Credentials no configured key can decrypt list as none, so one bad row cannot break a list."""
    try:
        return sorted(decrypt_json(integration.credentials_encrypted))
    except ValueError:
        return []


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- The trigger check and the credentials hook ----------------------------------------------


def integration_references(definition: dict) -> dict[str, Any]:
    """Node id -> integration id for each node of `definition` that names an integration or needs one."""
    refs = {}
    for node in definition.get("nodes", []):
        config = node.get("config") or {}
        node_type = registry.get(node.get("type"))
        if INTEGRATION_FIELD in config or (node_type is not None and node_type.integration):
            refs[str(node["id"])] = config.get(INTEGRATION_FIELD)
    return refs


def check_integration_references(*, version: WorkflowVersion, user) -> None:
    """Raise InvalidIntegrationReferences naming every node whose integration `user` does not own
    (in the workflow's tenant, of the node's integration type)."""
    refs = integration_references(version.definition)
    if not refs:
        return
    types = {str(n["id"]): n.get("type") for n in version.definition.get("nodes", [])}
    owned = {
        pk: type_
        for pk, type_ in Integration.objects.filter(
            owner=user, tenant_id=version.workflow.tenant_id, pk__in=[i for i in map(_as_int, refs.values()) if i]
        ).values_list("pk", "type")
    }
    bad = []
    for node_id, ref in refs.items():
        node_type = registry.get(types[node_id])
        wanted = node_type.integration if node_type else None
        found = owned.get(_as_int(ref) or 0)  # 0: no pk
        if found is None or (wanted and found != wanted):
            bad.append(node_id)
    if bad:
        raise InvalidIntegrationReferences(sorted(bad))


def credentials_for_node(*, node, claim) -> dict:
    """The decrypted credentials of the integration a node names, checked again at run time
    (the integration may have changed hands or been deleted since the trigger)."""
    ref = (node.config or {}).get(INTEGRATION_FIELD)
    if ref in (None, ""):
        return {}
    ref_id = _as_int(ref)
    integration = (
        Integration.objects.filter(pk=ref_id, owner_id=claim.run_as_id, tenant_id=claim.tenant_id).first()
        if ref_id
        else None
    )
    if integration is None:
        raise NodeError(f"invalid integration references: node {node.id} (integration {ref})", retryable=False)
    try:
        return decrypt_json(integration.credentials_encrypted)
    except ValueError as exc:
        raise NodeError(str(exc), retryable=False) from exc
