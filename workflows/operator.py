"""Who may act on an execution and which actions its state allows: the one rule the API
exposes (`allowedActions`) and the viewer only renders.

A *member* of an execution's tenant may cancel and retry it (as the REST API always allowed).
An *operator* is a member who is staff or an admin of the tenant: operators may also read
any approval request of the tenant and send a waiting node its signal from the viewer.
"""

from __future__ import annotations

from typing import Any

from .models import Execution, ExecutionStatus, Membership
from .selectors import tenant_ids_for

CANCEL = "cancel"
RETRY = "retry"


def is_member(user, tenant_id: Any) -> bool:
    """Whether `user` belongs to the tenant."""
    return tenant_id in tenant_ids_for(user)


def is_operator(user, tenant_id: Any) -> bool:
    """Whether `user` operates the tenant: a member who is staff, or the tenant's admin.
    Staff who do not belong to the tenant are not its operators (every read stays tenant-scoped)."""
    if user is None or not user.is_authenticated:
        return False
    membership = Membership.objects.filter(tenant_id=tenant_id, user=user).values_list("role", flat=True).first()
    if membership is None:
        return False
    return bool(user.is_staff or user.is_superuser or membership == Membership.Role.ADMIN)


def actions_for_state(execution: Execution) -> list[str]:
    """The actions the execution's state allows, whoever asks.

    - cancel (a test run: stop) while it runs or is paused;
    - retry from the failed node when it ended in error; a cancelled execution or a stopped
      test run has no failed node to retry from (a retry from a chosen node stays in the API).
    """
    if execution.status in (ExecutionStatus.RUNNING, ExecutionStatus.PAUSED):
        return [CANCEL]
    if execution.status == ExecutionStatus.ERROR:
        return [RETRY]
    return []


def allowed_actions(execution: Execution, user) -> list[str]:
    """The actions `user` may take on `execution` now (none for a non-member)."""
    if not is_member(user, execution.tenant_id):
        return []
    return actions_for_state(execution)
