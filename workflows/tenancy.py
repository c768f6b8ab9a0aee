"""The tenant a signed-in user acts in on the product pages: chosen in the nav, kept in the
session; with no choice made, the user's first tenant by name.

The REST API stays scoped to all of the caller's tenants; it only takes the active tenant as
the default where a browser session creates something without naming a tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .ids import as_uuid
from .models import Tenant

SESSION_KEY = "workflows_active_tenant"


@dataclass(frozen=True)
class Tenancy:
    """The user's tenants by name and the one they act in (None: no membership)."""

    active: Tenant | None = None
    choices: list[Tenant] = field(default_factory=list)

    @property
    def can_switch(self) -> bool:
        return len(self.choices) > 1


def tenancy_for(request: HttpRequest) -> Tenancy:
    """The request's Tenancy, read once per request."""
    cached = getattr(request, "_tenancy", None)
    if cached is None:
        cached = request._tenancy = _read(request)  # type: ignore[attr-defined]  # a request carries any attribute
    return cached


def _read(request: HttpRequest) -> Tenancy:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Tenancy()
    choices = list(Tenant.objects.filter(memberships__user=user).order_by("name", "slug"))
    if not choices:
        return Tenancy()
    chosen = request.session.get(SESSION_KEY)
    active = next((t for t in choices if str(t.pk) == chosen), choices[0])
    return Tenancy(active=active, choices=choices)


def active_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant the user acts in on this request (None for no membership)."""
    return tenancy_for(request).active


def in_active_tenant(queryset: QuerySet, request: HttpRequest, *, field: str = "tenant_id") -> QuerySet:
    """`queryset` narrowed to the active tenant's rows (none without a tenant)."""
    tenant = active_tenant(request)
    return queryset.filter(**{field: tenant.pk}) if tenant else queryset.none()


def switch_tenant(request: HttpRequest, tenant_id: object) -> Tenant | None:
    """Make `tenant_id` the active tenant if the user belongs to it; None (nothing changed) if not."""
    wanted = as_uuid(tenant_id)
    choices = tenancy_for(request).choices
    tenant = next((t for t in choices if t.pk == wanted), None)
    if tenant is not None:
        request.session[SESSION_KEY] = str(tenant.pk)
        request._tenancy = Tenancy(active=tenant, choices=choices)  # type: ignore[attr-defined]
    return tenant


def nav(request: HttpRequest) -> dict:
    """Context processor: `tenancy` for the nav's tenant switcher, read only when a template uses it."""
    return {"tenancy": SimpleLazyObject(lambda: tenancy_for(request))}
