// WidgetRun: the browser side of the widget bridge, framework-free (an ES module).
//
// One WidgetSocket per page carries every widget's frames {event, data} and reconnects
// with backoff after a drop; each WidgetRun re-subscribes to its instance when the socket
// is back, and keeps its last data meanwhile. Change events ("change") tell renderers to
// draw again. Semantics follow the reference useWidgetRun hook, with the Stop guard of its
// useWorkflowRun (isStoppingRef): once stopped, late frames of that run change nothing.

// The socket protocol version this client speaks: widget frames carry the reference's
// statuses (LOADING | PENDING | COMPLETED | FAILED | ERROR), the engine's in executionStatus.
export const PROTOCOL = 2;
const STATUSES = new Set(["LOADING", "PENDING", "COMPLETED", "FAILED", "ERROR"]);
// A run in one of these is over: the widget does not (re)connect to it.
const ENDED = new Set(["COMPLETED", "FAILED", "ERROR"]);

function defaultSocketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/ws/widgets/`;
}

function withProtocol(url) {
  const parsed = new URL(url, window.location.href);
  if (!parsed.searchParams.has("protocol")) parsed.searchParams.set("protocol", String(PROTOCOL));
  return parsed.toString();
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export class WidgetSocket extends EventTarget {
  constructor(url = defaultSocketUrl(), { minDelay = 500, maxDelay = 10000 } = {}) {
    super();
    this.url = withProtocol(url);
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.state = "disconnected";
    this.attempts = 0;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.handlers = new Map();
    this.connect();
  }

  connect() {
    if (this.closed) return;
    this._setState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this._setState("connected");
      this.dispatchEvent(new Event("open"));
    };
    ws.onmessage = (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));  // every frame, for dev tooling
      for (const fn of this.handlers.get(frame.event) || []) fn(frame.data || {});
    };
    ws.onerror = () => this._setState("error");
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) { this._setState("disconnected"); return; }
      this._scheduleReconnect();
    };
  }

  _scheduleReconnect() {
    const delay = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempts) * (0.8 + Math.random() * 0.4);
    this.attempts += 1;
    this._setState("connecting");
    this.dispatchEvent(new CustomEvent("reconnecting", { detail: { attempt: this.attempts, delay } }));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
    return () => this.handlers.get(event).delete(fn);
  }

  emit(event, data) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ event, data }));
    return true;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }
}

let shared = null;

export function sharedSocket() {
  if (!shared || shared.closed) shared = new WidgetSocket();
  return shared;
}

export class WidgetRun extends EventTarget {
  constructor({
    tenantID = null, widgetID = null, widgetFetchedData = null, executionMode = "ASYNC", workflowID = null,
    widgetType = null, widgetConfig = null, workflowConfig = null, socket = null, apiBase = "/api/widgets/",
  } = {}) {
    super();
    this.tenantID = tenantID;
    this.widgetID = widgetID || `preview-${Math.random().toString(36).slice(2, 10)}`;
    this.widgetFetchedData = widgetFetchedData;
    this.executionMode = executionMode;
    this.workflowID = workflowID;
    this.widgetType = widgetType;
    this.widgetConfig = widgetConfig;
    this.workflowConfig = workflowConfig;
    this.apiBase = apiBase;
    this.socket = socket;
    this.instanceID = null;
    this.processedData = null;  // live processed data from the socket
    this.localData = null;      // processed data fetched over HTTP (SYNC)
    this.context = {};
    this.workflowStatus = null;
    this.executionStatus = null;  // the engine's own status (success, error, cancelled, ...)
    this.fetching = false;
    this.subscribed = false;
    this.stopped = false;  // Stop was pressed: frames of this run are ignored from now on
    this.logs = [];
    this._off = [];
    if (this.socket) this._listen();
  }

  // --- State ---------------------------------------------------------------------------

  get data() {
    return this.processedData ?? this.localData ?? this.widgetFetchedData;
  }

  get isLoading() {
    return this.fetching && this.processedData === null;
  }

  get isRunning() {
    return !this.stopped && (this.fetching || this.workflowStatus === "LOADING" || this.workflowStatus === "PENDING");
  }

  get connectionState() {
    return this.subscribed ? this.socket.state : "disconnected";
  }

  get isLive() {
    return this.connectionState === "connected";
  }

  // Connect only to a started run (an instanceID: a run without a workflow never gets one),
  // in ASYNC mode, with a socket, that is not over (finished or in error) nor stopped.
  get shouldConnect() {
    return Boolean(this.instanceID) && this.executionMode === "ASYNC" && Boolean(this.socket)
      && !ENDED.has(this.workflowStatus) && !this.stopped;
  }

  snapshot() {
    return {
      data: this.data, processedData: this.processedData, context: this.context, isLoading: this.isLoading,
      isRunning: this.isRunning, isLive: this.isLive, workflowStatus: this.workflowStatus,
      connectionState: this.connectionState, logs: this.logs, instanceID: this.instanceID,
      executionStatus: this.executionStatus, stopped: this.stopped, shouldConnect: this.shouldConnect,
    };
  }

  _changed() {
    this.dispatchEvent(new CustomEvent("change", { detail: this.snapshot() }));
  }

  log(type, label, message) {
    this.logs = [...this.logs, { type, label, message, timestamp: new Date().toISOString() }];
  }

  clearLogs() {
    this.logs = [];
    this._changed();
  }

  // --- Running --------------------------------------------------------------------------

  async runWidget(formValues = {}, { inputParams = {} } = {}) {
    this._unsubscribe();
    this.stopped = false;
    this.fetching = true;
    this.workflowStatus = "LOADING";
    this.executionStatus = null;
    this.instanceID = null;
    this.log("info", "Widget", `Running (${this.executionMode})`);
    this._changed();
    try {
      const response = await fetch(`${this.apiBase}${encodeURIComponent(this.widgetID)}/data/`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
        body: JSON.stringify({
          executionMode: this.executionMode, inputParams: { ...formValues, ...inputParams },
          workflowID: this.workflowID, widgetType: this.widgetType, widgetConfig: this.widgetConfig,
          workflowConfig: this.workflowConfig, tenantID: this.tenantID,
        }),
      });
      const body = await response.json().catch(() => ({}));
      if (this.stopped) return body;  // stopped while the request was on its way
      if (!response.ok) {
        this.workflowStatus = "ERROR";
        const field = body.field ? ` (${body.field})` : "";
        this.log("error", "Widget", `${body.detail || `HTTP ${response.status}`}${field}`);
        return body;
      }
      this.instanceID = body.instanceID;
      if (this.executionMode === "SYNC") {
        this.localData = body.processedData ?? this.localData;
        this.context = body.context || {};
        this._setStatus(body.workflowStatus, body.status);
        if (body.processingError) this.log("warning", "Widget", body.processingError);
      } else {
        this._setStatus(body.workflowStatus || "PENDING", body.status);
        this.log("info", "Widget", `Started instance ${body.instanceID}`);
        this._connectIfNeeded();
      }
      return body;
    } catch (error) {
      if (this.stopped) return null;
      this.workflowStatus = "ERROR";
      this.log("error", "Widget", String(error));
      return null;
    } finally {
      this.fetching = false;
      this._changed();
    }
  }

  /** Attach to an instance started elsewhere (for example by another tab). */
  attach(instanceID) {
    this._unsubscribe();
    this.stopped = false;
    this.instanceID = instanceID;
    this.workflowStatus = "PENDING";
    this.executionStatus = null;
    this._connectIfNeeded();
    this._changed();
  }

  sendInput(inputType, data) {
    const sent = this.socket && this.socket.emit("widget_send_input", {
      widgetID: this.widgetID, instanceID: this.instanceID, inputType, data,
    });
    this.log(sent ? "info" : "warning", "Widget", sent ? `Input ${inputType} sent` : "Input not sent: socket down");
    this._changed();
    return Boolean(sent);
  }

  /** Stop following the run (the execution itself goes on): the widget keeps its data,
   * tells the server it leaves, and ignores whatever of this run still arrives. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this._unsubscribe();
    this.fetching = false;
    if (!ENDED.has(this.workflowStatus)) this.workflowStatus = null;
    this.log("info", "Widget", this.instanceID ? `Stopped following ${this.instanceID}` : "Stopped");
    this._changed();
  }

  /** Cleanup: leave the run (the server unregisters the widget) and drop every listener. */
  close() {
    this._unsubscribe();
    for (const off of this._off) off();
    this._off = [];
  }

  // --- Socket ---------------------------------------------------------------------------------

  _connectIfNeeded() {
    if (!this.shouldConnect) return;
    this.subscribed = true;
    if (this.socket.state !== "connected") return;  // the "open" handler subscribes
    this.socket.emit("widget_workflow_connect", {
      widgetID: this.widgetID, workflowID: this.workflowID, mode: "subscribe", instanceID: this.instanceID,
      inputParams: {}, widgetType: this.widgetType, widgetConfig: this.widgetConfig,
      workflowConfig: this.workflowConfig, tenantID: this.tenantID,
    });
  }

  _unsubscribe() {
    if (this.subscribed && this.socket) this.socket.emit("widget_workflow_disconnect", { widgetID: this.widgetID });
    this.subscribed = false;
  }

  _logNode(node) {
    const failed = node.status === "error";
    const message = failed && node.error && node.error.message ? `error: ${node.error.message}` : node.status;
    this.log(failed ? "error" : "info", node.label, message);
  }

  _mine(data) {
    return data.widgetID === this.widgetID && (!data.instanceID || data.instanceID === this.instanceID);
  }

  _setStatus(status, executionStatus) {
    if (STATUSES.has(status)) this.workflowStatus = status;
    if (executionStatus !== undefined) this.executionStatus = executionStatus;
  }

  _listen() {
    // The Stop guard: after stop(), frames in flight (sent before the server saw the
    // widget leave) return at once and change nothing.
    const on = (event, fn) => this._off.push(this.socket.on(event, (data) => {
      if (this.stopped) return;
      fn(data);
      this._changed();
    }));
    const socket = this.socket;
    const onOpen = () => {
      if (this.shouldConnect) {
        this.log("info", "Socket", "Connected; subscribing");
        this._connectIfNeeded();
      }
      this._changed();
    };
    const onState = () => this._changed();
    const onReconnecting = (event) => {
      if (!this.subscribed) return;
      this.log("warning", "Socket", `Connection lost; reconnecting (attempt ${event.detail.attempt})`);
      this._changed();
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("state", onState);
    socket.addEventListener("reconnecting", onReconnecting);
    this._off.push(() => {
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("state", onState);
      socket.removeEventListener("reconnecting", onReconnecting);
    });

    on("widget_workflow_connected", (data) => {
      if (!this._mine(data) || data.mode === "replay") return;
      if (data.protocol !== PROTOCOL) this.log("warning", "Socket", `Server speaks protocol ${data.protocol}, not ${PROTOCOL}`);
      this.context = data.initialContext || {};
      if (data.processedData != null) this.processedData = data.processedData;
      this._setStatus(data.status, data.executionStatus);
      const done = Object.keys(this.context).join(", ") || "nothing";
      this.log("info", "Widget", `Subscribed to ${data.instanceID} (${data.executionStatus}; context so far: ${done})`);
    });
    on("widget_context_update", (data) => {
      if (!this._mine(data)) return;
      const update = data.update || {};
      if (update.processedData != null) this.processedData = update.processedData;
      if (update.contextDiff) this.context = { ...this.context, ...update.contextDiff };
      if (update.label) this._logNode(update);
      else if (update.contextDiff) this.log("info", "Widget", `Context: ${Object.keys(update.contextDiff).join(", ")}`);
      if (update.processingError) this.log("warning", update.label || "Widget", update.processingError);
    });
    on("widget_workflow_status", (data) => {
      if (!this._mine(data)) return;
      if (data.lastNode && data.lastNode.label) this._logNode(data.lastNode);
      if (data.processedData != null) this.processedData = data.processedData;
      if (data.finalContext) this.context = data.finalContext;
      this._setStatus(data.status, data.executionStatus);
      const engine = data.executionStatus && data.executionStatus !== "success" && data.executionStatus !== "error"
        ? ` (${data.executionStatus})` : "";
      const message = data.error && data.error.message ? `${data.status}${engine}: ${data.error.message}` : `${data.status}${engine}`;
      this.log(data.status === "COMPLETED" ? "info" : "error", "Workflow", `Finished: ${message}`);
      this._unsubscribe();
    });
    on("widget_workflow_error", (data) => {
      if (data.widgetID !== this.widgetID) return;
      const error = data.error || {};
      this.log("error", "Widget", `${error.code}: ${error.message}`);
      // An error that cannot be retried ends the run: no (re)connection to it.
      if (!error.recoverable) { this.workflowStatus = "ERROR"; this.subscribed = false; }
    });
    on("widget_input_received", (data) => {
      if (data.widgetID !== this.widgetID) return;
      this.log(data.success ? "info" : "error", "Widget",
        data.success ? `Input ${data.inputType} received` : `Input refused: ${data.error && data.error.message}`);
    });
    on("workflow_node_update", (data) => {
      if (!this.subscribed || data.instanceID !== this.instanceID) return;
      const message = data.error && data.error.message ? `${data.status}: ${data.error.message}` : data.status;
      this.log(data.status === "error" ? "error" : "info", data.label || data.nodeID, message);
    });
  }
}
