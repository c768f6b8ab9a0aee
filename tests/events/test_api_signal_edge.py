"""The signal API's edge: deep JSON, NUL characters and lone surrogates answer 400 naming the
field (the rule of workflows/api/parsers.py, which every JSON body goes through)."""

from __future__ import annotations

import pytest

from tests.events.conftest import SIGNAL_URL
from tests.workflows.test_api_edge import DEEP, post_raw


def test_deep_signal_payload_answers_400(key_client):
    body = '{"eventNamespace": "payments", "eventKey": "k", "payload": {"a": ' + DEEP + "}}"
    response = post_raw(key_client, SIGNAL_URL, body)
    assert response.status_code == 400
    assert response.json()["field"] == "payload"


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"eventNamespace": "payments", "eventKey": "k\\u0000", "payload": {}}', "eventKey"),
        ('{"eventNamespace": "payments", "eventKey": "k", "payload": {"x": "\\u0000"}}', "payload.x"),
        ('{"eventNamespace": "payments", "eventKey": "\\udfff"}', "eventKey"),
    ],
    ids=["nul-in-key", "nul-in-payload", "surrogate-in-key"],
)
def test_nul_and_lone_surrogates_in_a_signal_answer_400(key_client, body, field):
    response = post_raw(key_client, SIGNAL_URL, body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
