"""Reads: who may decide on a request, and the requests a user sees."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Value

from workflows.models import Membership
from workflows.selectors import tenant_ids_for

from .models import ApprovalDecision, ApprovalEvent, ApprovalRequest, ApprovalStatus


def eligible_users(request: ApprovalRequest) -> QuerySet:
    """Members of the request's tenant named as approvers or holding an approver role."""
    named = Q(username__in=request.approvers or [])
    if request.approver_roles:
        named |= Q(groups__name__in=request.approver_roles)
    users = (
        get_user_model()
        .objects.filter(named, is_active=True, memberships__tenant_id=request.tenant_id)
        .exclude(username__in=request.excluded or [])
    )
    if not request.allow_self_approval and request.requested_by_id:
        users = users.exclude(pk=request.requested_by_id)
    return users.distinct()


def tenant_admin_usernames(tenant_id) -> list[str]:
    """The active admins of a tenant (Membership role `admin`), by username: who decides a
    request that names neither approvers nor roles."""
    return sorted(
        get_user_model()
        .objects.filter(is_active=True, memberships__tenant_id=tenant_id, memberships__role=Membership.Role.ADMIN)
        .values_list("username", flat=True)
    )


def eligible_usernames(request: ApprovalRequest) -> set[str]:
    return set(eligible_users(request).values_list("username", flat=True))


def is_eligible(request: ApprovalRequest, user) -> bool:
    """Whether `user` may decide on `request` (ignoring whether it is still pending)."""
    if not user or not user.is_authenticated:
        return False
    return eligible_users(request).filter(pk=user.pk).exists()


def has_decided(request: ApprovalRequest, user) -> bool:
    return ApprovalDecision.objects.filter(request=request, user_id=user.pk).exists()


def is_participant(request: ApprovalRequest, user) -> bool:
    """Eligible now, or decided or delegated it before: may view the request."""
    if is_eligible(request, user) or has_decided(request, user):
        return True
    return (
        ApprovalEvent.objects.filter(request=request, kind=ApprovalEvent.Kind.DELEGATED)
        .filter(Q(actor_id=user.pk) | Q(target_id=user.pk))
        .exists()
    )


def requests_in_tenants(user, *, tenant_id=None) -> QuerySet[ApprovalRequest]:
    """Every request of the user's tenants, or of the one of them given (the scope of every
    other read)."""
    qs = ApprovalRequest.objects.filter(tenant_id__in=tenant_ids_for(user))
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    return qs.select_related("workflow", "execution", "requested_by")


HISTORY_SCAN_LIMIT = 500


def _names_of(user) -> tuple[str, set[str]]:
    return user.get_username(), set(user.groups.values_list("name", flat=True))


def _named(request: ApprovalRequest, username: str, groups: set[str]) -> bool:
    """Listed by name or role (a request already loaded; `pending` asks the database)."""
    return username in (request.approvers or []) or bool(groups & set(request.approver_roles or []))


class JsonListHas(Func):
    """True where a JSON list column holds the string `value` among its elements. Matching
    in the database keeps the pending count one aggregate; JSONField's `contains` lookup has
    no SQLite version, hence one expression per database."""

    output_field = BooleanField()

    def __init__(self, column: str, value: str):
        super().__init__(F(column), Value(value))

    def _parts(self, compiler):
        column, column_params = compiler.compile(self.source_expressions[0])
        value, value_params = compiler.compile(self.source_expressions[1])
        return column, value, (*column_params, *value_params)

    def as_sql(self, compiler, connection, **extra):
        column, value, params = self._parts(compiler)
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})", params

    def as_postgresql(self, compiler, connection, **extra):
        column, value, params = self._parts(compiler)
        return f"({column} @> jsonb_build_array({value}::text))", params


def pending(user, *, tenant_id=None) -> QuerySet[ApprovalRequest]:
    """Pending requests of the user's tenants (or of the one given) on which the user may
    decide and has not yet: named or holding a named role, not delegated away, not the
    requester when self-approval is off."""
    username, groups = _names_of(user)
    named = Q(JsonListHas("approvers", username))
    for group in sorted(groups):
        named |= Q(JsonListHas("approver_roles", group))
    decided = ApprovalDecision.objects.filter(request_id=OuterRef("pk"), user_id=user.pk)
    return requests_in_tenants(user, tenant_id=tenant_id).filter(
        named,
        ~Q(JsonListHas("excluded", username)),
        ~Exists(decided),
        Q(allow_self_approval=True) | Q(requested_by__isnull=True) | ~Q(requested_by_id=user.pk),
        status=ApprovalStatus.PENDING,
    )


def pending_for(user) -> list[ApprovalRequest]:
    """Pending requests of the user's tenants on which the user may decide and has not yet,
    the nearest deadline first."""
    return list(pending(user).order_by("deadline", "-created_at"))


def history_for(user, *, tenant_id=None) -> list[ApprovalRequest]:
    """Requests the user decided or delegated, and ended ones the user was asked to decide
    (among the latest HISTORY_SCAN_LIMIT of the user's tenants, or of `tenant_id`), newest first."""
    username, groups = _names_of(user)
    decided = ApprovalDecision.objects.filter(user_id=user.pk).values("request_id")
    delegated = ApprovalEvent.objects.filter(kind=ApprovalEvent.Kind.DELEGATED, actor_id=user.pk).values("request_id")
    scope = requests_in_tenants(user, tenant_id=tenant_id)
    took_part = {r.pk: r for r in scope.filter(Q(pk__in=decided) | Q(pk__in=delegated))}
    ended = scope.exclude(status=ApprovalStatus.PENDING)
    for request in ended.order_by("-created_at")[:HISTORY_SCAN_LIMIT]:
        if request.pk not in took_part and _named(request, username, groups):
            took_part[request.pk] = request
    return sorted(took_part.values(), key=lambda r: r.created_at, reverse=True)


def visible_for(user) -> list[ApprovalRequest]:
    """Pending requests the user may decide on, then the user's history (no duplicates)."""
    pending = pending_for(user)
    seen = {r.pk for r in pending}
    return pending + [r for r in history_for(user) if r.pk not in seen]
