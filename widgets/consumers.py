"""The widget socket: translates the widget protocol to bridge services and back.

One consumer per browser socket. It keeps its own widgets in memory (widgetID -> the
execution it watches) and joins the channel-layer group `execution-<id>` of each, so
node and status updates reach it from any worker or process (Redis channel layer), and it
processes the context for its own widgets where the socket lives. The same widgetID on
two sockets is two independent registrations: updates never cross between them.
Frames speak the protocol version the client asked for (`?protocol=N`, widgets/protocol.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from workflows.api.parsers import NotJSON, load_json
from workflows.exceptions import InvalidInput, WorkflowError
from workflows.live import LAYER_ERRORS, execution_group, split_update
from workflows.models import FINISHED_STATUSES, Execution

from . import fanout, protocol, registry, services
from .exceptions import InvalidConfig, NotFinished, socket_error
from .services import WidgetSpec

logger = logging.getLogger("widgets.consumers")

MODES = ("execute", "subscribe", "replay")
HEARTBEAT_SECONDS = 60.0
# Close code telling the client that the live channel is unavailable (a Redis restart) and
# that it should reconnect and subscribe again; the browser client does so with backoff.
RECONNECT = 4503
# Close code for a `?protocol=N` this server does not speak (after an error frame saying so).
UNKNOWN_PROTOCOL = 4400


@dataclass
class LiveWidget:
    """A widget registered on this socket and the execution it watches."""

    spec: WidgetSpec
    instance_id: str
    mode: str
    finished: bool = False
    watching: bool = False  # counted in the process's shared context of its execution (fanout)
    key: str = ""  # its configuration's key: widgets configured alike share processed data


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    """Widget protocol frames are `{"event": NAME, "data": {...}}` both ways."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.widgets: dict[str, LiveWidget] = {}
        self.runs: set[str] = set()
        self.joined: set[str] = set()
        await self.accept()
        HEARTBEAT.opened()
        self.beating = True
        try:
            self.version = protocol.requested_version(self.scope.get("query_string", b""))
        except protocol.UnknownVersion as exc:
            self.version = protocol.LEGACY
            versions = ", ".join(map(str, protocol.VERSIONS))
            await self._error(None, InvalidConfig(f"protocol {exc} is not one of {versions}", field="protocol"))
            await self.close(code=UNKNOWN_PROTOCOL)

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except LAYER_ERRORS as exc:
            # The channel layer went away: say so with a close code the client answers by
            # reconnecting, rather than failing the connection with a traceback.
            logger.warning("widget socket closed, the channel layer is unavailable (%s)", exc)
            await self._release(groups=False)
            await self.close(code=RECONNECT)

    async def disconnect(self, code):
        await self._release(groups=True)

    async def _release(self, *, groups: bool) -> None:
        if getattr(self, "beating", False):
            self.beating = False
            HEARTBEAT.closed()
        for widget in getattr(self, "widgets", {}).values():
            self._unwatch(widget)
        if groups:
            for group in list(getattr(self, "joined", ())):
                await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "widgets", None):
            await database_sync_to_async(registry.unregister)(channel_name=self.channel_name)

    async def send_frame(self, event: str, data: dict) -> None:
        await self.send_json({"event": event, "data": data})

    def _status(self, status: str) -> dict:
        """The status fields of a widget frame: `status` in the socket's protocol version,
        `executionStatus` the engine's own."""
        return {"status": protocol.widget_status(status, version=self.version), "executionStatus": status}

    # --- Client -> server ----------------------------------------------------------------

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return load_json(text_data)
        except NotJSON:
            return None  # not JSON: receive_json answers with an error frame
        except InvalidInput as exc:  # nested too deep, or text no column takes: named as in an API body
            return exc

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not text_data:  # Channels raises on a frame without text; the protocol answers it
            await self._error(None, InvalidConfig("Frames are JSON text, not binary or empty", field="frame"))
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, InvalidInput):
            await self._error(None, content)
            return
        if not isinstance(content, dict) or not isinstance(content.get("data", {}), dict):
            await self._error(None, InvalidConfig('Frames are JSON objects {"event": NAME, "data": {...}}'))
            return
        event, data = content.get("event"), content.get("data") or {}
        handler = getattr(self, f"on_{event}", None) if isinstance(event, str) and event in CLIENT_FRAMES else None
        if handler is None:
            await self._error(data.get("widgetID"), InvalidConfig(f"Unknown event {event!r}", field="event"))
            return
        try:
            await handler(data)
        except LAYER_ERRORS:
            raise  # ends the socket with RECONNECT (see __call__)
        except Exception as exc:
            if not isinstance(exc, WorkflowError):  # a refusal is expected; anything else is a bug
                logger.exception("widget event %s failed", event)
            await self._error(data.get("widgetID"), exc)

    async def _error(self, widget_id, exc: Exception) -> None:
        await self.send_frame("widget_workflow_error", {"widgetID": widget_id, "error": socket_error(exc)})

    async def on_widget_workflow_connect(self, data: dict) -> None:
        mode = data.get("mode", "execute")
        if mode not in MODES:
            raise InvalidConfig(f"mode must be one of {', '.join(MODES)}", field="mode")
        spec = await database_sync_to_async(services.widget_spec)(data.get("widgetID"), data, user=self.user)
        if mode == "execute":
            await self._execute(spec, tenant_id=data.get("tenantID"), mode="execute")
        elif mode == "subscribe":
            await self._subscribe(spec, data)
        else:
            await self._replay(spec, data)

    async def on_widget_refresh(self, data: dict) -> None:
        widget_id = data.get("widgetID")
        current = self.widgets.get(widget_id) if isinstance(widget_id, str) else None
        if current is not None:
            spec = services.refreshed_spec(current.spec, data.get("inputParams"))
        else:
            spec = await database_sync_to_async(services.widget_spec)(widget_id, data, user=self.user)
        await self._execute(spec, tenant_id=data.get("tenantID"), mode="refresh")

    async def on_widget_workflow_disconnect(self, data: dict) -> None:
        widget_id = data.get("widgetID")
        existed = isinstance(widget_id, str) and widget_id in self.widgets
        if existed:
            await self._drop(str(widget_id))
        await self.send_frame("widget_workflow_disconnected", {"widgetID": widget_id, "success": existed})

    async def on_widget_send_input(self, data: dict) -> None:
        widget_id = data.get("widgetID")
        widget = self.widgets.get(widget_id) if isinstance(widget_id, str) else None
        instance_id = data.get("instanceID") or (widget.instance_id if widget else None)
        ack = {"widgetID": widget_id, "instanceID": instance_id, "inputType": data.get("inputType")}
        try:
            if not instance_id:
                raise InvalidConfig(
                    "instanceID is required for a widget not connected on this socket", field="instanceID"
                )
            result = await database_sync_to_async(services.send_input)(
                user=self.user,
                instance_id=instance_id,
                widget_id=widget_id,
                input_type=data.get("inputType"),
                data=data.get("data"),
            )
        except Exception as exc:
            await self.send_frame("widget_input_received", {**ack, "success": False, "error": socket_error(exc)})
            return
        await self.send_frame("widget_input_received", {**ack, "success": True, "resumedNodes": result["resumedNodes"]})

    async def on_workflow_run_join(self, data: dict) -> None:
        execution = await database_sync_to_async(services.find_execution)(data.get("runId"), user=self.user)
        instance_id = str(execution.pk)
        await self._join(instance_id)
        self.runs.add(instance_id)
        execution = await database_sync_to_async(services.reload)(instance_id)
        await self.send_frame(
            "workflow_status_update",
            {
                "instanceID": instance_id,
                "status": execution.status,
                "contextData": execution.context,
                "error": execution.error,
                "snapshot": True,
            },
        )

    async def on_workflow_run_leave(self, data: dict) -> None:
        instance_id = str(data.get("runId"))
        self.runs.discard(instance_id)
        await self._leave_if_unused(instance_id)

    # --- Modes ------------------------------------------------------------------------------

    async def _execute(self, spec: WidgetSpec, *, tenant_id, mode: str) -> None:
        """Start an execution with this socket already in its group: its id is chosen here
        and the group joined before it exists, so no worker can run a node before we listen."""
        await self._drop(spec.widget_id)
        instance_id = str(uuid.uuid4())
        await self._join(instance_id)
        try:
            execution = await database_sync_to_async(services.start_execution)(
                spec, user=self.user, tenant_id=tenant_id, execution_id=uuid.UUID(instance_id)
            )
        except Exception:
            await self._leave_if_unused(instance_id)  # nothing was created: nothing to listen to
            raise
        # Listening since before it existed, every change reaches us through the group, its
        # end too: what was read only stands in for the state as created.
        await self._watch(spec, execution, mode=mode, end_from_group=True)

    async def _subscribe(self, spec: WidgetSpec, data: dict) -> None:
        """Join first, then read: whatever completed before the join is in the context read."""
        execution = await self._instance(data)
        await self._drop(spec.widget_id)
        await self._join(str(execution.pk))
        await self._watch(spec, await database_sync_to_async(services.reload)(execution.pk), mode="subscribe")

    async def _watch(self, spec: WidgetSpec, execution: Execution, *, mode: str, end_from_group: bool = False) -> None:
        """Register the widget on an execution whose group this socket joined, read after the
        join: later changes arrive through the group, earlier ones are in what was read."""
        await database_sync_to_async(registry.register)(
            channel_name=self.channel_name,
            widget_id=spec.widget_id,
            execution=execution,
            user=self.user,
            mode=mode,
            widget_type=spec.widget_type or "",
            widget_config=spec.widget_config,
            workflow_config=spec.workflow_config,
        )
        widget = LiveWidget(spec=spec, instance_id=str(execution.pk), mode=mode)
        self.widgets[spec.widget_id] = widget
        await self._send_connected(
            widget, context=execution.context, status=execution.status, meta=services.workflow_meta(execution)
        )
        # It may have finished before we joined its group: its final status is not coming.
        if execution.is_finished and not end_from_group:
            await self._finish(widget, status=execution.status, context=execution.context, error=execution.error)

    async def _replay(self, spec: WidgetSpec, data: dict) -> None:
        execution = await self._instance(data)
        if not execution.is_finished:
            raise NotFinished(f"Instance is still {execution.status}; subscribe to it instead", field="instanceID")
        await self._drop(spec.widget_id)
        processed = spec.process(execution.context) if spec.widget_type and spec.widget_config is not None else None
        await self.send_frame(
            "widget_workflow_connected",
            {
                "widgetID": spec.widget_id,
                "instanceID": str(execution.pk),
                "mode": "replay",
                "protocol": self.version,
                **self._status(execution.status),
                "initialContext": execution.context,
                "finalContext": execution.context,
                "processedData": processed.data if processed else None,
                "processingError": processed.error if processed else None,
                "workflowMeta": services.workflow_meta(execution),
            },
        )

    async def _instance(self, data: dict) -> Execution:
        if not data.get("instanceID"):
            raise InvalidConfig("instanceID is required for this mode", field="instanceID")
        execution = await database_sync_to_async(services.find_execution)(data["instanceID"], user=self.user)
        await database_sync_to_async(services.check_requested_tenant)(
            data.get("tenantID"), execution.tenant_id, user=self.user
        )
        return execution

    async def _send_connected(self, widget: LiveWidget, *, context: dict, status: str, meta: dict) -> None:
        fanout.watch(widget.instance_id, context)
        widget.watching = True
        widget.key = fanout.spec_key(widget.spec)
        processed = widget.spec.process(context) if widget.spec.widget_type else None
        await self.send_frame(
            "widget_workflow_connected",
            {
                "widgetID": widget.spec.widget_id,
                "instanceID": widget.instance_id,
                "mode": widget.mode,
                "protocol": self.version,
                **self._status(status),
                "initialContext": context,
                "processedData": processed.data if processed else None,
                "processingError": processed.error if processed else None,
                "workflowMeta": meta,
            },
        )

    # --- Groups and registrations -----------------------------------------------------------

    async def _join(self, instance_id: str) -> None:
        group = execution_group(instance_id)
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def _leave_if_unused(self, instance_id: str) -> None:
        group = execution_group(instance_id)
        used = instance_id in self.runs or any(w.instance_id == instance_id for w in self.widgets.values())
        if group in self.joined and not used:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.discard(group)

    async def _drop(self, widget_id: str) -> None:
        """Forget a widget's old mapping (re-registering on a new execution drops the old one)."""
        old = self.widgets.pop(widget_id, None)
        if old is None:
            return
        self._unwatch(old)
        await database_sync_to_async(registry.unregister)(channel_name=self.channel_name, widget_id=widget_id)
        await self._leave_if_unused(old.instance_id)

    @staticmethod
    def _unwatch(widget: LiveWidget) -> None:
        if widget.watching:
            widget.watching = False
            fanout.unwatch(widget.instance_id)

    def _watchers(self, instance_id: str) -> list[LiveWidget]:
        return [w for w in self.widgets.values() if w.instance_id == instance_id and not w.finished]

    # --- Server -> client (channel-layer messages from workflows.live) -------------------------

    async def execution_update(self, message: dict) -> None:
        """One commit's updates of an execution (workflows.live).

        A socket that joined the run (`workflow_run_join`) gets every node and status change.
        A widget gets one frame per update at most: `widget_context_update` with what the
        update changed in the context (and the execution's new status, if it changed), its
        one `widget_workflow_status` when the execution finished, or a status change alone;
        node changes that complete nothing are not sent to it."""
        instance_id = message["executionId"]
        if instance_id in self.runs:
            for part in split_update(message):
                await (self._node_frame(part) if part["type"] == "node.update" else self._status_frame(part))
        watchers = self._watchers(instance_id)
        applied = fanout.apply(message) if watchers else None
        if applied is None:
            return
        status = message.get("status")
        if status and status["status"] in FINISHED_STATUSES:
            for widget in watchers:
                result = fanout.processed(instance_id, widget.spec, widget.key) if widget.spec.widget_type else None
                await self._finish(
                    widget,
                    status=status["status"],
                    context=fanout.context(instance_id),
                    error=status.get("error"),
                    processed=result,
                    node=applied.node,
                )
            return
        if applied.diff:
            for widget in watchers:
                result = fanout.processed(instance_id, widget.spec, widget.key)
                await self.send_frame(
                    "widget_context_update",
                    fanout.context_update(widget.spec.widget_id, instance_id, applied, result, status=status),
                )
        elif status and instance_id not in self.runs:
            await self._status_frame(status)  # a pause, say: nothing completed to carry it

    async def _node_frame(self, message: dict) -> None:
        await self.send_frame(
            "workflow_node_update",
            {
                "instanceID": message["executionId"],
                "nodeID": message["nodeId"],
                "label": message.get("label"),
                "status": message["status"],
                "attempt": message.get("attempt"),
                "output": message.get("output"),
                "error": message.get("error"),
                "startedAt": message.get("startedAt"),
                "finishedAt": message.get("finishedAt"),
            },
        )

    async def _status_frame(self, message: dict) -> None:
        await self.send_frame(
            "workflow_status_update",
            {
                "instanceID": message["executionId"],
                "status": message["status"],
                "contextData": message.get("context"),
                "error": message.get("error"),
            },
        )

    async def _finish(
        self, widget: LiveWidget, *, status: str, context: dict, error, processed=None, node: dict | None = None
    ) -> None:
        """Emit the one widget_workflow_status of a terminal state (never twice per widget),
        with the node whose completion ended the execution when it did (`lastNode`)."""
        if widget.finished:
            return
        widget.finished = True
        if processed is None and widget.spec.widget_type:
            processed = widget.spec.process(context)
        await self.send_frame(
            "widget_workflow_status",
            {
                "widgetID": widget.spec.widget_id,
                "instanceID": widget.instance_id,
                **self._status(status),
                "finalContext": context,
                "processedData": processed.data if processed else None,
                "processingError": processed.error if processed else None,
                "error": error,
                "lastNode": {
                    "nodeID": node["nodeId"],
                    "label": node.get("label"),
                    "status": node["status"],
                    "error": node.get("error"),
                }
                if node
                else None,
            },
        )


def heartbeat_seconds() -> float:
    """How often a process marks its registrations as seen: well within the stale age."""
    return min(HEARTBEAT_SECONDS, settings.WIDGET_STALE_SECONDS / 4)


class Heartbeat:
    """While any widget socket of this process is open, mark the process's registrations
    as seen, all at once (one UPDATE per beat, whatever the number of sockets): a widget
    quietly watching a pause of hours is not stale. A socket's rows go when it closes, so
    only rows of a server that is gone (closed or crashed) stop being touched, and the
    stale cleanup removes them after WIDGET_STALE_SECONDS.

    A server has one event loop; the count and the task are kept per loop all the same, so
    a socket's close only ever cancels a task of its own loop (a task belongs to one loop
    and must not be cancelled from another thread), and a loop that ends takes its entry."""

    def __init__(self) -> None:
        self.loops: dict[asyncio.AbstractEventLoop, tuple[int, asyncio.Task]] = {}

    def opened(self) -> None:
        loop = asyncio.get_running_loop()
        sockets, task = self.loops.get(loop, (0, None))
        if task is None or task.done():
            task = loop.create_task(self._beat())
            task.add_done_callback(lambda done: self._forget(loop, done))
        self.loops[loop] = (sockets + 1, task)

    def closed(self) -> None:
        loop = asyncio.get_running_loop()
        entry = self.loops.pop(loop, None)
        if entry is None:
            return
        sockets, task = entry
        if sockets > 1:
            self.loops[loop] = (sockets - 1, task)
        else:
            task.cancel()

    def sockets(self) -> int:
        return sum(sockets for sockets, _ in self.loops.values())

    def _forget(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task) -> None:
        entry = self.loops.get(loop)
        if entry is not None and entry[1] is task:
            del self.loops[loop]

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(heartbeat_seconds())
            try:
                await database_sync_to_async(registry.touch_server)()
            except Exception:  # a database hiccup must not end the sockets; the next beat retries
                logger.warning("could not mark this server's widget registrations as seen", exc_info=True)


HEARTBEAT = Heartbeat()


# The frames a client may send, by their `event` name (the socket protocol's, docs/widgets.md).
CLIENT_FRAMES = {
    "widget_workflow_connect",
    "widget_workflow_disconnect",
    "widget_send_input",
    "widget_refresh",
    "workflow_run_join",
    "workflow_run_leave",
}
