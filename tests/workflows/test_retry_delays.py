"""Retry delays: the backoff itself (1, 2, 4, 8 s, capped, jitter within its bounds) with an
injected random source, and the delay a failing node's next attempt is scheduled at."""

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.conftest import chain
from workflows import engine
from workflows.models import NodeRun
from workflows.services import trigger_workflow

POLICY = {"maxAttempts": 6, "initialInterval": 1.0, "backoffFactor": 2.0, "maxInterval": 8.0, "jitter": 0.2}
BASES = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 8.0, 6: 8.0}


def low(a: float, b: float) -> float:
    return a


def high(a: float, b: float) -> float:
    return b


def middle(a: float, b: float) -> float:
    return 0.0


@pytest.mark.parametrize("attempt,base", sorted(BASES.items()))
def test_the_delay_doubles_from_one_second_and_is_capped_at_eight(attempt, base):
    assert engine.backoff_delay(POLICY, attempt, uniform=middle) == base


@pytest.mark.parametrize("attempt,base", sorted(BASES.items()))
def test_jitter_reaches_exactly_its_bounds(attempt, base):
    assert engine.backoff_delay(POLICY, attempt, uniform=low) == pytest.approx(base * 0.8)
    assert engine.backoff_delay(POLICY, attempt, uniform=high) == pytest.approx(base * 1.2)


def test_jitter_asks_the_random_source_for_plus_or_minus_the_fraction():
    asked = []

    def spy(a, b):
        asked.append((a, b))
        return 0.0

    engine.backoff_delay(POLICY, 3, uniform=spy)
    assert asked == [(-0.2, 0.2)]


def test_random_jitter_stays_inside_its_bounds_and_varies():
    source = random.Random(1234)
    for attempt, base in BASES.items():
        delays = [engine.backoff_delay(POLICY, attempt, uniform=source.uniform) for _ in range(200)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(set(delays)) > 100  # jittered, not a constant


def test_without_jitter_the_delay_is_exact_and_never_negative():
    policy = {**POLICY, "jitter": 0}
    assert [engine.backoff_delay(policy, n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    # A jitter above 1 could draw below -100%: the delay stays at zero, not negative.
    assert engine.backoff_delay({**POLICY, "jitter": 3}, 1, uniform=low) == 0.0


def test_the_default_source_is_the_engines_replaceable_random(monkeypatch):
    monkeypatch.setattr(engine, "jitter_random", random.Random(7))
    first = engine.backoff_delay(POLICY, 2)
    monkeypatch.setattr(engine, "jitter_random", random.Random(7))
    assert engine.backoff_delay(POLICY, 2) == first


@pytest.mark.django_db(transaction=True)
def test_a_failing_nodes_next_attempt_is_scheduled_at_now_plus_the_delay(
    make_workflow, user, worker, http_server, monkeypatch
):
    """Five failures, then success: each failed attempt n leaves the node run ready at the
    failure's own time plus min(2^(n-1), 8) s times 1.2 (the stubbed jitter's upper bound)."""

    class UpperBound(random.Random):
        def uniform(self, a, b):
            return b

    monkeypatch.setattr(engine, "jitter_random", UpperBound())
    http_server.script = [(503, {})] * 5 + [(200, {"done": True})]
    node = {"id": "h", "type": "http-request", "label": "Call", "config": {"method": "POST", "url": http_server.url}}
    node["retry"] = POLICY
    wf = make_workflow(chain(node))
    execution_id = trigger_workflow(workflow_id=wf.pk, user_name=user.username).execution_id

    for attempt in range(1, 6):
        assert worker.run_until_idle() == 1
        run = NodeRun.objects.get(execution_id=execution_id, node_id="h")
        assert (run.status, run.attempt, run.lease_owner) == ("running", attempt, None)
        failed_at = datetime.fromisoformat(run.logs[-1]["timestamp"])
        delay = BASES[attempt] * 1.2
        assert abs(run.available_at - (failed_at + timedelta(seconds=delay))) <= timedelta(microseconds=1)
        assert run.logs[-1]["message"].endswith(f"retrying in {delay:.1f}s")
        assert worker.run_until_idle() == 0  # not before its time
        # Rather than sleep through the delay, make the attempt due now.
        NodeRun.objects.filter(pk=run.pk).update(available_at=timezone.now() - timedelta(milliseconds=1))

    assert worker.run_until_idle() == 1
    run = NodeRun.objects.get(execution_id=execution_id, node_id="h")
    assert (run.status, run.attempt) == ("success", 6)
    assert len(http_server.requests) == 6
