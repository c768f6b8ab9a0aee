"""Builder benchmark: a 200-node workflow, on the server and in the browser.

Server: the time `POST /api/workflows/validate/` takes to answer a 200-node definition
(through DRF's view: parsing, validation, scopes, serializer), and the validator alone.
Browser (headless Chromium, the shared canvas module and the builder's model): drawing the
200 nodes (opening), one pan frame, one drag frame, and one whole edit (a new definition
from the model, redrawn). Figures are printed, never asserted: a frame under 16 ms is smooth.

    python bench/builder_bench.py [--nodes 200] [--repeat 50]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def big_definition(count: int) -> dict:
    """A trigger, then conditions and sets in 10 parallel lanes, with templates naming earlier nodes."""
    nodes = [
        {
            "id": "trigger",
            "type": "trigger",
            "label": "Trigger",
            "position": {"x": 0, "y": 0},
            "config": {"inputSchema": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "number"}]},
        }
    ]
    edges = []
    lanes = 10
    previous = {lane: "trigger" for lane in range(lanes)}
    for index in range(1, count):
        lane, column = index % lanes, index // lanes + 1
        node_id = f"n{index}"
        before = previous[lane]
        before_label = "Trigger" if before == "trigger" else f"Step {before[1:]}"
        if index % 7 == 0:
            node = {
                "id": node_id,
                "type": "condition",
                "label": f"Step {index}",
                "config": {"left": f"{{{{{before_label}.amount}}}}", "operator": "gt", "right": 100},
            }
        else:
            node = {
                "id": node_id,
                "type": "set",
                "label": f"Step {index}",
                "config": {"values": {"orderId": "{{Trigger.orderId}}", "previous": f"{{{{{before_label}}}}}"}},
            }
        node["position"] = {"x": column * 260, "y": lane * 110}
        nodes.append(node)
        edge = {"source": before, "target": node_id}
        if before != "trigger" and nodes[int(before[1:])]["type"] == "condition":
            edge["branch"] = "true"
        edges.append(edge)
        previous[lane] = node_id
    return {"nodes": nodes, "edges": edges}


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"{name}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms (n={len(times)})"
    )


def server(definition: dict, repeat: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from rest_framework.test import APIRequestFactory, force_authenticate

    from workflows import editor
    from workflows.api.views import WorkflowViewSet

    view = WorkflowViewSet.as_view({"post": "validate"})
    factory = APIRequestFactory()
    body = json.dumps({"definition": definition})
    user = User(username="bench", id=1)

    def call():
        request = factory.post("/api/workflows/validate/", body, content_type="application/json")
        force_authenticate(request, user=user)
        response = view(request)
        response.render()
        assert response.status_code == 200 and json.loads(response.content)["valid"], response.content[:300]

    report(
        f"server: POST /api/workflows/validate/ ({len(definition['nodes'])} nodes, valid, through DRF)",
        timed(call, repeat),
    )
    report(
        "server: the validator and the scopes alone (workflows.editor.check)",
        timed(lambda: editor.check(definition), repeat),
    )


HARNESS = """<!doctype html><meta charset="utf-8"><div id="host" style="width:1000px;height:700px;position:relative"></div>
<script type="module">
import { Canvas } from "/workflows/canvas.js";
import { setPositions } from "/workflows/builder/model.js";
const definition = DEFINITION;
const data = (def) => ({ nodes: def.nodes.map((n) => ({ id: n.id, label: n.label, type: n.type, typeLabel: n.type, icon: "box",
  x: n.position.x, y: n.position.y, hasInput: n.type !== "trigger", hasError: n.type !== "trigger",
  outputs: n.type === "condition" ? ["true", "false"] : [null] })), edges: def.edges });
const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
const results = { open: [], pan: [], drag: [], edit: [] };
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const canvas = new Canvas(document.getElementById("host"), { interactive: true, editable: true, minimap: true });
  canvas.setGraph(data(definition));
  canvas.fit();
  document.body.offsetHeight;
  results.open.push(performance.now() - t0);
  await frame();
  if (i < 4) continue;
  let def = definition;
  let nodes = data(def);
  for (let f = 0; f < REPEAT; f++) {
    let t = performance.now();
    canvas.setView({ x: canvas.view.x - 5, y: canvas.view.y - 3, k: canvas.view.k });
    document.body.offsetHeight;
    results.pan.push(performance.now() - t);
    t = performance.now();
    canvas.moveTo({ n55: { x: 300 + f * 2, y: 200 + f }, n56: { x: 560 + f * 2, y: 200 + f } });
    document.body.offsetHeight;
    results.drag.push(performance.now() - t);
    t = performance.now();
    def = setPositions(def, { n55: { x: 300 + f * 2, y: 200 + f } });
    const next = data(def);
    next.nodes = next.nodes.map((n, index) => (n.id === "n55" ? n : nodes.nodes[index]));
    canvas.setGraph(next);
    nodes = next;
    document.body.offsetHeight;
    results.edit.push(performance.now() - t);
    await frame();
  }
}
window.benchResults = results;
</script>"""


def browser(definition: dict, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_ARGS

    static = ROOT / "static"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/bench.html":
                page = HARNESS.replace("DEFINITION", json.dumps(definition)).replace("REPEAT", str(repeat)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(static)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/bench.html")
            page.wait_for_function("window.benchResults", timeout=120_000)
            results = page.evaluate("window.benchResults")
            chromium.close()
    finally:
        httpd.shutdown()
    nodes = len(definition["nodes"])
    report(
        f"browser: open, draw {nodes} nodes and {len(definition['edges'])} edges and fit (canvas.js)", results["open"]
    )
    report("browser: one pan frame", results["pan"])
    report("browser: one drag frame (two nodes and their edges)", results["drag"])
    report("browser: one edit (model.js makes a new definition, the canvas redraws what changed)", results["edit"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-browser", action="store_true", help="only the server figures")
    args = parser.parse_args()
    definition = big_definition(args.nodes)
    server(definition, args.repeat)
    if not args.no_browser:
        browser(definition, args.repeat)


if __name__ == "__main__":
    main()
