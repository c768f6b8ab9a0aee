"""The fault suite's own parts, without processes: the effects receiver, the refusal rule,
the schemathesis config, the mixed workflow and the table's verdict."""

import argparse
import json
import tomllib
import urllib.error
import urllib.request

from reliability import probes
from reliability.faults import Faults
from reliability.receiver import Ledger, Receiver
from reliability.run import table
from reliability.workflow import definition
from workflows.definition import validate_definition
from workflows.nodes import registry


def test_a_key_is_applied_once_and_its_repeats_are_only_counted():
    ledger = Ledger()
    assert ledger.deliver("k1", ("r1", "effect"), flaky=False) == 200
    assert ledger.deliver("k1", ("r1", "effect"), flaky=False) == 200
    assert (ledger.duplicates(), ledger.repeated_deliveries(), ledger.effects_by_run()) == ([], 1, {"r1": 1})


def test_one_effect_applied_under_two_keys_is_a_duplicate():
    ledger = Ledger()
    ledger.deliver("exec:effect:0", ("r1", "effect"), flaky=False)
    ledger.deliver("exec:effect:0-again", ("r1", "effect"), flaky=False)
    ledger.deliver("exec:effect:0", ("r2", "effect"), flaky=False)
    assert ledger.duplicates() == [(("r1", "effect"), ["exec:effect:0", "exec:effect:0-again"])]
    assert ledger.duplicates(runs={"r2"}) == []


def test_a_flaky_first_delivery_fails_and_the_retry_with_the_same_key_applies():
    ledger = Ledger()
    assert ledger.deliver("k", ("r", "effect"), flaky=True) == 503
    assert ledger.effects_by_run() == {}
    assert ledger.deliver("k", ("r", "effect"), flaky=True) == 200
    assert ledger.effects_by_run() == {"r": 1} and ledger.duplicates() == []


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_receiver_keys_by_the_header_else_by_run_and_node():
    with Receiver() as receiver:
        assert post(receiver.url, {"run": "r1", "node": "effect"}, {"Idempotency-Key": "a:effect:0"}) == (
            200,
            {"key": "a:effect:0", "applied": True},
        )
        assert post(receiver.url, {"run": "r2", "node": "effect"}) == (200, {"key": "r2:effect", "applied": True})
        assert post(receiver.url, {"run": "r3", "node": "effect", "flaky": True})[0] == 503
    assert receiver.ledger.keyed_by_header == 1
    assert receiver.ledger.effects_by_run() == {"r1": 1, "r2": 1}


def test_only_a_refusal_without_data_is_no_leak():
    assert not probes.leaks_data(404, json.dumps({"code": "not_found", "detail": "Not found."}))
    assert not probes.leaks_data(403, "<html>Forbidden</html>")
    assert probes.leaks_data(200, "{}")
    assert probes.leaks_data(404, json.dumps({"context": {"x": 1}}))
    assert probes.leaks_data(404, "event: snapshot\ndata: {}\n\n")


def test_the_fuzzing_config_is_toml_with_the_credentials_and_ids():
    config = tomllib.loads(probes.fuzz_config(token="T", api_key="K", ids={"workflows": "W", "executions": "E"}))
    assert config["headers"] == {"Authorization": "Token T"}
    operations = config["operations"]
    assert operations[0] == {"include-path-regex": "^/api/workflow/events/", "headers": {"Authorization": "Bearer K"}}
    assert operations[1] == {"include-path-regex": "^/api/workflows/[{]id[}]", "parameters": {"path.id": "W"}}


def test_the_mixed_workflow_is_a_valid_definition():
    graph = validate_definition(
        definition(receiver_url="http://127.0.0.1:9/effect", approver="alice", nap="1s"), registry
    )
    assert {edge.source for edge in graph.incoming["done"]} == {"effect", "nap", "wait", "approve"}


def figures(**changes) -> dict:
    base = {
        "executions": 10,
        "signals": 10,
        "decisions": 10,
        "lost": 0,
        "stuck": 0,
        "failed": 0,
        "extra_attempts": 3,
        "duplicate_effects": 0,
        "repeated_deliveries": 2,
        "keyed_deliveries": 10,
        "api_5xx": 0,
        "api_unanswered": 0,
        "fuzz_requests": 100,
        "fuzz_5xx": 0,
        "tenant_probes": 20,
        "leaks": 0,
    }
    return {**base, **changes}


def test_the_table_passes_only_when_every_must_be_zero_figure_is_zero():
    args = argparse.Namespace(quick=True)
    text, ok = table(args, figures(), Faults(), [], 60.0)
    assert ok and "NOT ZERO" not in text and "make reliability (quick)" in text
    for name in ("lost", "stuck", "failed", "duplicate_effects", "fuzz_5xx", "leaks", "api_5xx"):
        text, ok = table(args, figures(**{name: 1}), Faults(), [], 60.0)
        assert not ok and "NOT ZERO" in text, name
