"""Server-sent event streams (async views, served by daphne).

- `GET /api/executions/{id}/events/`: a `snapshot` first, then `node` and `status` events
  from the channel-layer group `execution-<id>`, and `end` once the execution is finished.
  Reconnecting with `Last-Event-ID` gets a fresh snapshot; ids keep counting up from it.
- `GET /api/executions/events/`: `status` events of every execution in the caller's tenants
  (groups `tenant-<id>`), for live lists; filters `tenant` (one of yours), `workflow` (ids,
  comma-separated) and `isTest` (false|true|all).

Comment lines (`: heartbeat`) keep proxies from closing idle streams.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from . import live
from .authentication import user_for_request
from .exceptions import ExecutionNotFound, error_body
from .ids import as_uuid
from .models import FINISHED_STATUSES, Execution
from .selectors import tenant_ids_for
from .viewer import snapshot, viewer_executions

logger = logging.getLogger("workflows.sse")

FINISHED = frozenset(FINISHED_STATUSES)
# Channel-layer message types (workflows.live) as the stream's SSE event names.
SSE_EVENT_NAMES = {"node.update": "node", "status.update": "status"}


def sse_frame(event: str, data: dict, event_id: int | None = None) -> str:
    """One SSE frame: optional id, the event name and the JSON data on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def last_event_id(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("lastEventId")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def _authenticated_user(request: HttpRequest):
    user = await request.auser()
    if user.is_authenticated:
        return user
    return await sync_to_async(user_for_request)(request)


def _stream(body: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_ending_cleanly(body), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


async def _ending_cleanly(body: AsyncIterator[str]) -> AsyncIterator[str]:
    """End the stream on any error, so the browser's EventSource reconnects (with
    Last-Event-ID, to a fresh snapshot) instead of waiting on a response left open."""
    try:
        async for chunk in body:
            yield chunk
    except live.LAYER_ERRORS as exc:
        logger.warning("event stream ended, the channel layer is unavailable (%s); the client reconnects", exc)
    except Exception:
        logger.exception("event stream failed; the client reconnects")


class Subscription:
    """A channel-layer channel added to some groups; `next()` waits at most `timeout` seconds."""

    def __init__(self, groups: list[str]):
        self.layer = get_channel_layer()
        self.groups = groups
        self.channel: str | None = None
        self._pending: asyncio.Task | None = None

    async def __aenter__(self) -> Subscription:
        self.channel = await self.layer.new_channel()
        for group in self.groups:
            await self.layer.group_add(group, self.channel)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._pending is not None:
            self._pending.cancel()
        try:
            for group in self.groups:
                await self.layer.group_discard(group, self.channel)
        except live.LAYER_ERRORS:
            pass  # the layer is gone, and its groups with it (or they expire)

    async def next(self, timeout: float) -> dict | None:
        # Keep one receive in flight across timeouts rather than cancelling it: a cancelled
        # receive may drop a message on some layers.
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        task, self._pending = self._pending, None
        return task.result()


def _tick() -> float:
    # Wake at least this often: the in-memory layer gets messages from the embedded
    # worker's thread without waking this event loop, so look every tick.
    return min(settings.WORKFLOW_SSE_TICK_SECONDS, settings.WORKFLOW_SSE_HEARTBEAT_SECONDS)


async def execution_stream(request: HttpRequest, pk: uuid.UUID) -> HttpResponseBase:
    """Stream one execution's updates (see the module docstring)."""
    user = await _authenticated_user(request)
    if user is None:
        return JsonResponse(
            error_body(code="not_authenticated", message="Authentication credentials were not provided."), status=401
        )
    await sync_to_async(tenant_ids_for)(user)  # cache the tenants before leaving the sync world
    exists = await viewer_executions(user).filter(pk=pk).aexists()
    if not exists:
        return JsonResponse(ExecutionNotFound(pk).as_dict(), status=404)
    start_id = last_event_id(request)
    return _stream(_execution_stream(user, pk, first_id=(start_id or 0) + 1))


def _load_snapshot(user, pk) -> dict | None:
    execution = viewer_executions(user).prefetch_related("node_runs").filter(pk=pk).first()
    return snapshot(execution, user) if execution else None


async def _execution_stream(user, pk, *, first_id: int) -> AsyncIterator[str]:
    event_id = first_id
    loop = asyncio.get_running_loop()
    async with Subscription([live.execution_group(pk)]) as subscription:
        # Subscribed before reading: nothing committed after the snapshot can be missed.
        snap = await sync_to_async(_load_snapshot)(user, pk)
        yield f"retry: {settings.WORKFLOW_SSE_RETRY_MS}\n"
        if snap is None:
            yield sse_frame("end", {"executionId": str(pk), "status": "deleted"}, event_id)
            return
        yield sse_frame("snapshot", snap, event_id)
        event_id += 1
        if snap["execution"]["status"] in FINISHED:
            yield sse_frame("end", {"executionId": str(pk), "status": snap["execution"]["status"]}, event_id)
            return
        started = last_beat = loop.time()
        while True:
            message = await subscription.next(_tick())
            now = loop.time()
            if message is not None:
                for part in live.split_update(message) if message.get("type") == "execution.update" else [message]:
                    name = SSE_EVENT_NAMES.get(str(part.get("type")))
                    if name is None:
                        continue
                    data = {k: v for k, v in part.items() if k != "type"}
                    yield sse_frame(name, data, event_id)
                    event_id += 1
                    if name == "status" and data.get("status") in FINISHED:
                        yield sse_frame("end", {"executionId": str(pk), "status": data["status"]}, event_id)
                        return
                continue
            if now - last_beat >= settings.WORKFLOW_SSE_HEARTBEAT_SECONDS:
                last_beat = now
                yield ": heartbeat\n\n"
                # A lost message (a layer restart) must not leave the stream open forever.
                status = await Execution.objects.filter(pk=pk).values_list("status", flat=True).afirst()
                if status is None or status in FINISHED:
                    snap = await sync_to_async(_load_snapshot)(user, pk)
                    if snap is not None:
                        yield sse_frame("snapshot", snap, event_id)
                        event_id += 1
                    yield sse_frame("end", {"executionId": str(pk), "status": status or "deleted"}, event_id)
                    return
            if settings.WORKFLOW_SSE_MAX_SECONDS and now - started >= settings.WORKFLOW_SSE_MAX_SECONDS:
                return  # the browser reconnects with Last-Event-ID and gets a fresh snapshot


async def tenant_stream(request: HttpRequest) -> HttpResponseBase:
    """Stream status changes of the caller's executions (see the module docstring)."""
    user = await _authenticated_user(request)
    if user is None:
        return JsonResponse(
            error_body(code="not_authenticated", message="Authentication credentials were not provided."), status=401
        )
    tenant_ids = await sync_to_async(tenant_ids_for)(user)
    if request.GET.get("tenant"):
        wanted = as_uuid(request.GET["tenant"])
        if wanted not in tenant_ids:
            return JsonResponse(
                error_body(code="not_found", message=f"Tenant not found: {request.GET['tenant']}", field="tenant"),
                status=404,
            )
        tenant_ids = [wanted]
    workflows = None
    if request.GET.get("workflow"):
        try:
            workflows = {str(uuid.UUID(w.strip())) for w in request.GET["workflow"].split(",") if w.strip()}
        except ValueError:
            return JsonResponse(
                error_body(code="invalid", message="not a valid workflow id", field="workflow"), status=400
            )
    is_test = (request.GET.get("isTest") or "false").lower()
    if is_test not in ("true", "false", "all"):
        return JsonResponse(error_body(code="invalid", message="use true, false or all", field="isTest"), status=400)
    groups = [live.tenant_group(tid) for tid in tenant_ids]
    return _stream(
        _tenant_stream(groups, workflows=workflows, is_test=is_test, first_id=(last_event_id(request) or 0) + 1)
    )


def _wanted(data: dict, *, workflows: set[str] | None, is_test: str) -> bool:
    if workflows is not None and data.get("workflowId") not in workflows:
        return False
    return is_test == "all" or bool(data.get("isTest")) == (is_test == "true")


async def _tenant_stream(
    groups: list[str], *, workflows: set[str] | None, is_test: str, first_id: int
) -> AsyncIterator[str]:
    event_id = first_id
    loop = asyncio.get_running_loop()
    async with Subscription(groups) as subscription:
        yield f"retry: {settings.WORKFLOW_SSE_RETRY_MS}\n"
        yield ": subscribed\n\n"
        started = last_beat = loop.time()
        while True:
            message = await subscription.next(_tick())
            now = loop.time()
            if message is not None:
                if message.get("type") == "status.update":
                    data = {k: v for k, v in message.items() if k not in ("type", "context")}
                    if _wanted(data, workflows=workflows, is_test=is_test):
                        yield sse_frame("status", data, event_id)
                        event_id += 1
                continue
            if now - last_beat >= settings.WORKFLOW_SSE_HEARTBEAT_SECONDS:
                last_beat = now
                yield ": heartbeat\n\n"
            if settings.WORKFLOW_SSE_MAX_SECONDS and now - started >= settings.WORKFLOW_SSE_MAX_SECONDS:
                return
