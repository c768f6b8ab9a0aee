"""Writes of the events app: API keys, waits, signals (delivered or buffered), expiry.

Every path that reads or writes the waits and buffered signals of one (tenant, namespace,
key) first takes a transaction-scoped lock on that key (a PostgreSQL advisory lock; on
SQLite transactions are already serialized). So a signal and a wait arriving at the same
moment never miss each other, and concurrent signals on one key are delivered once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from workflows import engine
from workflows.exceptions import InvalidInput
from workflows.models import NodeRun, NodeRunStatus, Tenant
from workflows.nodes import NodeError

from . import keys
from .exceptions import InvalidSignal, NotAllowed, PayloadTooLarge, SignalConflict, WaitNotFound
from .models import BufferedSignal, OnExpiration, WaitEvent, WaitStatus, WorkflowApiKey

logger = logging.getLogger("workflows.events")

# Last use is written at most this often per key, so busy keys do not rewrite their row on every call.
LAST_USED_PRECISION = timedelta(seconds=60)
MAX_NAME_LENGTH = 255


# --- API keys ------------------------------------------------------------------------


def create_api_key(*, tenant: Tenant, name: str, user=None) -> tuple[WorkflowApiKey, str]:
    """Create a key for `tenant`; returns the row and the raw key, which is never stored."""
    name = (name or "").strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not name:
        raise InvalidInput("name is required", field="name")
    if len(name) > 200:
        raise InvalidInput("name must be at most 200 characters", field="name")
    for _ in range(5):
        new = keys.generate()
        try:
            with transaction.atomic():
                api_key = WorkflowApiKey.objects.create(
                    tenant=tenant, name=name, prefix=new.prefix, key_hash=new.hash, created_by=user
                )
            return api_key, new.raw
        except IntegrityError:  # a prefix collision (about 1 in 2**47): draw again
            continue
    raise RuntimeError("could not draw a unique API key prefix")


def revoke_api_key(api_key: WorkflowApiKey, *, user=None) -> WorkflowApiKey:
    """Revoke a key (idempotent); only its creator or an admin of its tenant may."""
    if user is not None and not can_manage_key(api_key, user):
        raise NotAllowed("Only the key's creator or an admin of its tenant may revoke it", field="id")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        WorkflowApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=api_key.revoked_at)
    return api_key


def can_manage_key(api_key: WorkflowApiKey, user) -> bool:
    if user.is_superuser or api_key.created_by_id == user.pk:
        return True
    return api_key.tenant.memberships.filter(user=user, role="admin").exists()


def authenticate_api_key(raw: str) -> WorkflowApiKey | None:
    """The key `raw` names when its secret matches (revoked or not), else None."""
    prefix = keys.prefix_of(raw)
    api_key = (
        WorkflowApiKey.objects.select_related("tenant", "created_by").filter(prefix=prefix).first() if prefix else None
    )
    if not keys.matches(raw, api_key.key_hash if api_key else None):
        return None
    return api_key


def record_use(api_key: WorkflowApiKey) -> None:
    """Record that the key was used now (at most once per LAST_USED_PRECISION)."""
    now = timezone.now()
    if api_key.last_used_at is not None and api_key.last_used_at >= now - LAST_USED_PRECISION:
        return  # recorded recently (as read with the key): no statement at all
    WorkflowApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)


# --- The per-key lock --------------------------------------------------------------------


def lock_event_key(tenant_id: Any, namespace: str, key: str) -> None:
    """Hold a lock on (tenant, namespace, key) until the current transaction ends: signals
    and waits of one key are taken one at a time, even before any row for it exists."""
    engine.named_lock(f"events:{tenant_id}:{namespace}:{key}")


# --- Waits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitSpec:
    """What a Wait for Event node run waits for, its config resolved."""

    tenant_id: Any
    namespace: str
    key: str
    title: str = ""
    description: str = ""
    context_data: dict | None = None
    expires_at: datetime | None = None
    on_expiration: str = OnExpiration.ERROR


def wait_output(wait: WaitEvent) -> dict:
    """The node's output for a received or expired wait."""
    return {
        "status": wait.status,
        "payload": wait.payload,
        "eventNamespace": wait.namespace,
        "eventKey": wait.key,
        "waitEventId": str(wait.id),
        "receivedAt": wait.received_at.isoformat() if wait.received_at else None,
        "receivedFrom": wait.received_from or None,
    }


def _holder_error(spec: WaitSpec) -> NodeError:
    holder = WaitEvent.objects.filter(
        tenant_id=spec.tenant_id, namespace=spec.namespace, key=spec.key, status=WaitStatus.WAITING
    ).first()
    held_by = f"execution {holder.execution_id}" if holder else "another execution"
    return NodeError(
        f'Event key "{spec.key}" in namespace "{spec.namespace}" is already awaited by {held_by}; '
        "only one execution may wait on a namespace + key at a time",
        retryable=False,
        details={
            "eventNamespace": spec.namespace,
            "eventKey": spec.key,
            "heldByExecutionId": str(holder.execution_id) if holder else None,
        },
    )


def open_wait(run: NodeRun, spec: WaitSpec) -> dict | None:
    """In the pausing transaction: create the wait, or consume a buffered signal and return
    the output to finish at once. Raises NodeError when another execution holds the key."""
    lock_event_key(spec.tenant_id, spec.namespace, spec.key)
    now = timezone.now()
    if WaitEvent.objects.filter(
        tenant_id=spec.tenant_id, namespace=spec.namespace, key=spec.key, status=WaitStatus.WAITING
    ).exists():
        raise _holder_error(spec)
    wait = WaitEvent(
        tenant_id=spec.tenant_id,
        execution_id=run.execution_id,
        node_run=run,
        namespace=spec.namespace,
        key=spec.key,
        title=spec.title,
        description=spec.description,
        context_data=spec.context_data,
        expires_at=spec.expires_at,
        on_expiration=spec.on_expiration,
    )
    buffered = (
        BufferedSignal.objects.select_for_update()
        .filter(
            tenant_id=spec.tenant_id,
            namespace=spec.namespace,
            key=spec.key,
            status=BufferedSignal.Status.PENDING,
            expires_at__gt=now,
        )
        .first()
    )
    if buffered is not None:
        wait.status = WaitStatus.RECEIVED
        wait.payload = buffered.payload
        wait.received_at = buffered.created_at
        wait.received_from = buffered.received_from
        wait.api_key_id = buffered.api_key_id
        wait.finished_at = now
        wait.save()
        buffered.status = BufferedSignal.Status.CONSUMED
        buffered.consumed_at = now
        buffered.wait_event = wait
        buffered.save(update_fields=["status", "consumed_at", "wait_event"])
        return wait_output(wait)
    try:
        with transaction.atomic():
            wait.save()
    except IntegrityError:  # the database's unique constraint is the last word
        raise _holder_error(spec) from None
    run.pause_data = {**(run.pause_data or {}), "waitEventId": str(wait.id)}
    return None


def expire_wait(run: NodeRun) -> dict:
    """At the deadline (in the timer's transaction): close the wait and continue or fail per onExpiration."""
    wait = (
        WaitEvent.objects.select_for_update()
        .filter(node_run_id=run.pk, status=WaitStatus.WAITING)
        .order_by("-created_at")
        .first()
    )
    if wait is None:
        raise NodeError("The wait of this node is no longer open", retryable=False)
    wait.status = WaitStatus.EXPIRED
    wait.finished_at = timezone.now()
    wait.save(update_fields=["status", "finished_at"])
    if wait.on_expiration == OnExpiration.CONTINUE:
        return wait_output(wait)
    deadline = wait.expires_at.isoformat() if wait.expires_at else "its deadline"
    raise NodeError(
        f'No event "{wait.key}" in namespace "{wait.namespace}" arrived before {deadline}',
        retryable=False,
        details=wait_output(wait),
    )


def cancel_waits(run: NodeRun) -> int:
    """Close the open waits of a cancelled node run (in the cancelling transaction)."""
    return WaitEvent.objects.filter(node_run_id=run.pk, status=WaitStatus.WAITING).update(
        status=WaitStatus.CANCELLED, finished_at=timezone.now()
    )


# --- Signals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalResult:
    """How a signal was taken: delivered to a wait (resumed) or buffered for a later one."""

    resumed: bool
    wait_event_id: Any = None
    execution_id: Any = None
    signal_id: Any = None
    expires_at: datetime | None = None
    replayed: bool = False


def check_signal(*, namespace: Any, key: Any, payload: Any) -> dict:
    """Validate a signal's fields (pure); returns the payload to store. Raises InvalidSignal / PayloadTooLarge."""
    for field, value in (("eventNamespace", namespace), ("eventKey", key)):
        if value is None or value == "":
            raise InvalidSignal(f"{field} is required", field=field)
        if not isinstance(value, str):
            raise InvalidSignal(f"{field} must be a string", field=field)
        if len(value) > MAX_NAME_LENGTH:
            raise InvalidSignal(f"{field} must be at most {MAX_NAME_LENGTH} characters", field=field)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise InvalidSignal("payload must be a JSON object", field="payload")
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    limit = settings.EVENTS_MAX_PAYLOAD_BYTES
    if size > limit:
        raise PayloadTooLarge(f"payload is {size} bytes; the limit is {limit}", field="payload")
    return payload


def _replay(tenant_id: Any, namespace: str, key: str, idempotency_key: str) -> SignalResult | None:
    """The first answer given to a signal with this Idempotency-Key, if there was one."""
    signal = BufferedSignal.objects.filter(
        tenant_id=tenant_id, namespace=namespace, key=key, idempotency_key=idempotency_key
    ).first()
    if signal is not None:
        return SignalResult(resumed=False, signal_id=signal.pk, expires_at=signal.expires_at, replayed=True)
    wait = WaitEvent.objects.filter(
        tenant_id=tenant_id, namespace=namespace, key=key, signal_idempotency_key=idempotency_key
    ).first()
    if wait is not None:
        return SignalResult(resumed=True, wait_event_id=wait.pk, execution_id=wait.execution_id, replayed=True)
    return None


def _deliver(
    wait_id: Any,
    run_id: int,
    execution_id: Any,
    *,
    namespace: str,
    key: str,
    payload: dict,
    source: str,
    api_key,
    idempotency_key,
    now,
) -> SignalResult | None:
    """Close the wait as received and resume its node, or None when the wait is no longer
    open. The engine's lock order: the execution row, then its node run, then the wait (one
    conditional UPDATE, its lock and its write at once), as the deadline, cancel and worker
    paths take them, so they never wait on each other in a cycle."""
    with engine.locked_run(run_id, execution_id=execution_id) as locked:
        waiting = WaitEvent.objects.filter(pk=wait_id, status=WaitStatus.WAITING)
        if locked is None or locked.node_run.status != NodeRunStatus.PAUSED:
            # The node stopped waiting without closing its wait (should not happen): close it.
            waiting.update(status=WaitStatus.CANCELLED, finished_at=now)
            return None
        wait = WaitEvent(
            id=wait_id,
            execution_id=execution_id,
            namespace=namespace,
            key=key,
            status=WaitStatus.RECEIVED,
            payload=payload,
            received_at=now,
            received_from=source,
            api_key=api_key,
            signal_idempotency_key=idempotency_key,
            finished_at=now,
        )
        fields = ("status", "payload", "received_at", "received_from", "api_key", "signal_idempotency_key")
        if not waiting.update(finished_at=now, **{name: getattr(wait, name) for name in fields}):
            return None
        engine.resume_node_run(run_id, output=wait_output(wait), message=f"Event received from {source}", locked=locked)
    return SignalResult(resumed=True, wait_event_id=wait_id, execution_id=execution_id)


def _deliver_to_waiting(tenant_id: Any, namespace: str, key: str, **delivery) -> SignalResult | None:
    """Deliver to the open wait of (tenant, namespace, key), if there is one and it is still
    open once its rows are locked."""
    waiting = (
        WaitEvent.objects.filter(tenant_id=tenant_id, namespace=namespace, key=key, status=WaitStatus.WAITING)
        .values_list("id", "node_run_id", "execution_id")  # the execution: no lookup to lock it
        .first()
    )
    if waiting is None:
        return None
    return _deliver(*waiting, namespace=namespace, key=key, **delivery)


def signal_event(
    *,
    tenant_id: Any,
    namespace: Any,
    key: Any,
    payload: Any = None,
    source: str,
    api_key: WorkflowApiKey | None = None,
    idempotency_key: str | None = None,
) -> SignalResult:
    """Deliver a signal to the execution waiting on (namespace, key) of the tenant and resume
    it, all in one transaction; with no waiter, buffer it for the first wait to come."""
    payload = check_signal(namespace=namespace, key=key, payload=payload)
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not idempotency_key or len(idempotency_key) > 255
    ):
        raise InvalidSignal("Idempotency-Key must be 1 to 255 characters", field="Idempotency-Key")
    delivery = {"payload": payload, "source": source, "api_key": api_key, "idempotency_key": idempotency_key}
    with transaction.atomic():
        # A retry of a signal already taken gets its first answer, whatever waits now.
        if idempotency_key and (replay := _replay(tenant_id, namespace, key, idempotency_key)):
            return replay
        # The usual case, an open wait: its rows' locks order the signals that race for it,
        # and a signal that loses goes on below. The key's lock is for what has no row yet.
        delivered = _deliver_to_waiting(tenant_id, namespace, key, now=timezone.now(), **delivery)
        if delivered is not None:
            return delivered
        lock_event_key(tenant_id, namespace, key)
        if idempotency_key and (replay := _replay(tenant_id, namespace, key, idempotency_key)):
            return replay
        now = timezone.now()
        # A wait opened while this signal looked (its node held the key's lock until its commit).
        delivered = _deliver_to_waiting(tenant_id, namespace, key, now=now, **delivery)
        if delivered is not None:
            return delivered
        latest = (
            WaitEvent.objects.filter(tenant_id=tenant_id, namespace=namespace, key=key).order_by("-created_at").first()
        )
        if latest is not None and latest.status == WaitStatus.RECEIVED:
            raise SignalConflict(
                f'Event "{key}" in namespace "{namespace}" was already received '
                f"(wait {latest.pk}, execution {latest.execution_id}, at {latest.received_at.isoformat() if latest.received_at else 'an unknown time'})",
                field="eventKey",
            )
        BufferedSignal.objects.filter(
            tenant_id=tenant_id, namespace=namespace, key=key, status=BufferedSignal.Status.PENDING, expires_at__lte=now
        ).delete()
        pending = BufferedSignal.objects.filter(
            tenant_id=tenant_id, namespace=namespace, key=key, status=BufferedSignal.Status.PENDING
        ).first()
        if pending is not None:
            raise SignalConflict(
                f'A signal for event "{key}" in namespace "{namespace}" is already buffered '
                f"(signal {pending.pk}, until {pending.expires_at.isoformat()})",
                field="eventKey",
            )
        signal = BufferedSignal.objects.create(
            tenant_id=tenant_id,
            namespace=namespace,
            key=key,
            payload=payload,
            received_from=source,
            api_key=api_key,
            idempotency_key=idempotency_key,
            expires_at=now + timedelta(seconds=settings.EVENTS_SIGNAL_BUFFER_SECONDS),
        )
        return SignalResult(resumed=False, signal_id=signal.pk, expires_at=signal.expires_at)


def signal_wait(*, wait_id: Any, tenant_id: Any, payload: Any, source: str) -> SignalResult:
    """Deliver a signal to one open wait of the tenant (an operator's, from the viewer) and
    resume its node. Unlike the signal API it is never buffered: a wait that is no longer
    open answers 409, so a late click cannot leave a signal for the next execution."""
    wait = WaitEvent.objects.filter(pk=wait_id, tenant_id=tenant_id).values("namespace", "key").first()
    if wait is None:
        raise WaitNotFound(wait_id)
    payload = check_signal(namespace=wait["namespace"], key=wait["key"], payload=payload)
    with transaction.atomic():
        lock_event_key(tenant_id, wait["namespace"], wait["key"])
        status, run_id, execution_id = (
            WaitEvent.objects.filter(pk=wait_id).values_list("status", "node_run_id", "execution_id").get()
        )
        delivered = None
        if status == WaitStatus.WAITING:
            delivered = _deliver(
                wait_id,
                run_id,
                execution_id,
                namespace=wait["namespace"],
                key=wait["key"],
                payload=payload,
                source=source,
                api_key=None,
                idempotency_key=None,
                now=timezone.now(),
            )
    if delivered is None:
        current = WaitEvent.objects.filter(pk=wait_id).values_list("status", flat=True).get()
        raise SignalConflict(f"The wait is {current}, no longer waiting for a signal", field="waitEventId")
    return delivered


# --- Housekeeping (a worker duty and the expire_events command) --------------------------


# Where the orphan check goes on from (per process): each run looks at the next batch of
# open waits, so its cost does not grow with their number, and every wait is looked at in turn.
ORPHAN_BATCH = 500
_orphan_cursor: dict[str, Any] = {"after": None}


def _close_orphaned_waits(now) -> int:
    """Close waits whose node run stopped waiting without closing them (a safety net: the
    node's cancel and deadline hooks close them)."""
    waiting = WaitEvent.objects.filter(status=WaitStatus.WAITING).order_by("pk")
    if _orphan_cursor["after"] is not None:
        waiting = waiting.filter(pk__gt=_orphan_cursor["after"])
    batch = list(waiting.values_list("pk", "node_run__status")[:ORPHAN_BATCH])
    _orphan_cursor["after"] = batch[-1][0] if len(batch) == ORPHAN_BATCH else None  # wrap around
    orphans = [pk for pk, run_status in batch if run_status != NodeRunStatus.PAUSED]
    if not orphans:
        return 0
    return (
        WaitEvent.objects.filter(pk__in=orphans, status=WaitStatus.WAITING)
        .exclude(node_run__status=NodeRunStatus.PAUSED)
        .update(status=WaitStatus.CANCELLED, finished_at=now)
    )


def expire_and_purge() -> dict:
    """Fire waits whose deadline passed unnoticed, close orphaned waits, delete stale buffered signals."""
    now = timezone.now()
    fired = 0
    for run_id in WaitEvent.objects.filter(status=WaitStatus.WAITING, expires_at__lte=now).values_list(
        "node_run_id", flat=True
    )[:500]:
        fired += int(engine.fire_deadline(run_id))
    orphaned = _close_orphaned_waits(now)
    purged, _ = BufferedSignal.objects.filter(expires_at__lte=now).delete()
    if fired or orphaned or purged:
        logger.info(
            "events: %d wait(s) expired, %d orphaned wait(s) closed, %d buffered signal(s) purged",
            fired,
            orphaned,
            purged,
        )
    return {"expired": fired, "orphaned": orphaned, "purged": purged}
