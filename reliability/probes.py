"""Bad input and other tenants, against the running server: schemathesis over the OpenAPI
schema (5xx answers counted from its HAR report) and tenant B's credentials on tenant A's
objects (any answer with data is a leak)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA_KEYS = ("context", "nodeRuns", "definition", "input", "contextData", "finalContext", "initialContext", "snapshot")


def leaks_data(status: int, text: str) -> bool:
    """Whether an answer to another tenant's request is anything but a refusal without data."""
    if status not in (401, 403, 404):
        return True
    try:
        body = json.loads(text)
    except ValueError:
        return "event: snapshot" in text  # an HTML page or a stream: only a snapshot would carry data
    return not isinstance(body, dict) or any(key in body for key in DATA_KEYS)


def fuzz_config(*, token: str, api_key: str, ids: dict[str, str]) -> str:
    """schemathesis.toml: tenant A's credentials, and path ids of real objects so the fuzzed
    bodies and queries reach the views' work instead of stopping at 404."""
    lines = [f'headers = {{ Authorization = "Token {token}" }}', ""]
    lines += [
        "[[operations]]",
        'include-path-regex = "^/api/workflow/events/"',
        f'headers = {{ Authorization = "Bearer {api_key}" }}',
        "",
    ]
    for prefix, value in ids.items():
        lines += [
            "[[operations]]",
            f"include-path-regex = '^/api/{prefix}/[{{]id[}}]'",
            f'parameters = {{ "path.id" = "{value}" }}',
            "",
        ]
    return "\n".join(lines)


def fuzz(*, base: str, config: str, max_examples: int, max_time: int, report: Path) -> tuple[int, list[str]]:
    """(requests sent, one line per answer with a 5xx status: method, URL, status and the
    body sent) of a bounded schemathesis run."""
    report.unlink(missing_ok=True)
    config_file = report.with_suffix(".toml")
    config_file.write_text(config)
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        f"{base}/api/schema/",
        "--url",
        base,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--continue-on-failure",
        "--report",
        "har",
        "--report-har-path",
        str(report),
        "--no-color",
        # Deleting the load's own workflow or its tokens would only make everything else 404.
        "--exclude-method",
        "DELETE",
    ]
    log = report.with_suffix(".log")
    with open(log, "w") as out:
        # In the log directory: schemathesis keeps a cache of its own in its working directory.
        subprocess.run(
            argv, check=False, cwd=report.parent, stdout=out, stderr=subprocess.STDOUT, timeout=max_time + 120
        )
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report: see {log}")
    entries = json.loads(report.read_text())["log"]["entries"]
    return len(entries), [server_error(e) for e in entries if e["response"]["status"] >= 500]


def server_error(entry: dict) -> str:
    """A HAR entry as one line a reader can replay: what was sent and what came back."""
    request = entry["request"]
    body = (request.get("postData") or {}).get("text") or ""
    return f"{request['method']} {request['url']} -> {entry['response']['status']} {body[:300]}".rstrip()


def tracebacks(log: Path, *, limit: int = 3) -> list[str]:
    """The last `limit` tracebacks of a server log, each with its exception line."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    found = []
    for start, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = start + 1
            while end < len(lines) and lines[end].startswith(" "):
                end += 1
            found.append("\n".join(lines[start : end + 1]))
    return found[-limit:]


def cross_tenant(*, base: str, token_b: str, a: dict) -> tuple[int, int]:
    """(requests tried, leaks): tenant B's token on tenant A's execution, workflow and approval.
    Every answer must be a refusal (401, 403, 404, or a redirect to the login) without data."""
    import requests as http

    headers = {"Authorization": f"Token {token_b}"}
    execution, workflow, approval = a["execution"], a["workflow"], a["approval"]
    calls = [
        ("GET", f"/api/executions/{execution}/", None),
        ("POST", f"/api/executions/{execution}/cancel/", {}),
        ("POST", f"/api/executions/{execution}/retry/", {}),
        ("POST", f"/api/executions/{execution}/run-from-here/", {"nodeId": "done"}),
        ("GET", f"/api/executions/{execution}/events/", None),
        ("GET", f"/api/workflows/{workflow}/", None),
        ("PATCH", f"/api/workflows/{workflow}/", {"name": "taken"}),
        ("POST", f"/api/workflows/{workflow}/trigger/", {"input": {}}),
        ("GET", f"/api/workflows/{workflow}/versions/", None),
        ("GET", f"/api/workflows/{workflow}/versions/1/export/", None),
        ("POST", f"/api/workflows/{workflow}/webhook/", {}),
        ("GET", f"/api/approvals/{approval}/", None),
        ("POST", f"/api/approvals/{approval}/decide/", {"decision": "rejected"}),
        ("GET", f"/workflows/executions/{execution}/", None),
        ("GET", f"/workflows/{workflow}/", None),
        ("GET", f"/workflows/approvals/{approval}/", None),
    ]
    leaks = 0
    for method, path, body in calls:
        answer = http.request(
            method,
            base + path,
            json=body,
            headers=headers,
            timeout=20,
            allow_redirects=False,
            stream=path.endswith("/events/"),
        )
        text = answer.raw.read(4096).decode(errors="replace") if path.endswith("/events/") else answer.text
        answer.close()
        to_login = answer.status_code == 302 and "/accounts/login/" in answer.headers.get("Location", "")
        if not to_login and leaks_data(answer.status_code, text):
            leaks += 1
            print(f"  leak: {method} {path} as tenant B answered {answer.status_code}", flush=True)
    return len(calls), leaks


def cross_tenant_socket(*, port: int, token_b: str, execution: str) -> tuple[int, int]:
    """Tenant B's widget socket subscribing to, joining and replaying tenant A's execution."""
    from websockets.sync.client import connect

    frames = [
        {"event": "widget_workflow_connect", "data": {"widgetID": "x1", "mode": "subscribe", "instanceID": execution}},
        {"event": "widget_workflow_connect", "data": {"widgetID": "x2", "mode": "replay", "instanceID": execution}},
        {"event": "workflow_run_join", "data": {"runId": execution}},
        {
            "event": "widget_send_input",
            "data": {"widgetID": "x3", "instanceID": execution, "inputType": "go", "data": {}},
        },
    ]
    leaks = 0
    with connect(f"ws://127.0.0.1:{port}/ws/widgets/?token={token_b}", open_timeout=10) as ws:
        for frame in frames:
            ws.send(json.dumps(frame))
            answer = json.loads(ws.recv(timeout=10))
            data = answer.get("data") or {}
            refused = answer.get("event") == "widget_workflow_error" or (
                answer.get("event") == "widget_input_received" and data.get("success") is False
            )
            if not refused or any(key in data for key in DATA_KEYS):
                leaks += 1
                print(f"  leak: socket {frame['event']} as tenant B answered {answer}", flush=True)
    return len(frames), leaks
