"""Approval policies (pure): decide whether a request is approved, rejected or still pending.

- single: the first decision wins, approve or reject.
- any: the first approval wins; rejected only when every eligible approver has rejected.
- all: any rejection rejects; approved when `required` approvals are in (default: every
  eligible approver).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

SINGLE, ANY, ALL = "single", "any", "all"
APPROVAL_TYPES = (SINGLE, ANY, ALL)
APPROVED, REJECTED, PENDING = "approved", "rejected", "pending"
DECISIONS = (APPROVED, REJECTED)


def required_approvals(approval_type: str, *, required: int | None, eligible: Collection[str]) -> int:
    """How many approvals approve the request: 1 for single/any, else `required` or everyone."""
    if approval_type != ALL:
        return 1
    if required:
        return required
    return max(len(eligible), 1)


def evaluate(
    approval_type: str,
    decisions: Sequence[tuple[str, str]],
    *,
    eligible: Collection[str],
    required: int | None = None,
) -> str:
    """Return approved, rejected or pending for `decisions` ([(username, decision)], oldest first)."""
    if approval_type not in APPROVAL_TYPES:
        raise ValueError(f"unknown approval type {approval_type!r}")
    for _, decision in decisions:
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
    if not decisions:
        return PENDING
    if approval_type == SINGLE:
        return decisions[0][1]
    approvers = {user for user, decision in decisions if decision == APPROVED}
    rejecters = {user for user, decision in decisions if decision == REJECTED}
    if approval_type == ANY:
        if approvers:
            return APPROVED
        # Everyone who may still decide has rejected: nobody is left to approve.
        return REJECTED if set(eligible) <= rejecters else PENDING
    if rejecters:
        return REJECTED
    needed = required_approvals(ALL, required=required, eligible=eligible)
    return APPROVED if len(approvers) >= needed else PENDING
