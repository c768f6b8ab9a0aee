"""The protocol's status vocabulary and version negotiation (widgets/protocol.py)."""

from __future__ import annotations

import pytest

from widgets import protocol
from workflows.models import FINISHED_STATUSES, ExecutionStatus


def test_every_engine_status_has_a_reference_status():
    assert {s.value for s in ExecutionStatus} == set(protocol.WIDGET_STATUSES)
    assert set(protocol.WIDGET_STATUSES.values()) <= {"LOADING", "PENDING", "COMPLETED", "FAILED", "ERROR"}


def test_finished_statuses_map_to_completed_or_failed_and_the_rest_to_pending():
    assert protocol.widget_status("success") == "COMPLETED"
    assert protocol.widget_status("error") == "FAILED"
    assert protocol.widget_status("cancelled") == "FAILED"
    unfinished = {s.value for s in ExecutionStatus} - set(FINISHED_STATUSES)
    assert {protocol.widget_status(s) for s in unfinished} == {"PENDING"}


def test_the_legacy_version_keeps_the_engines_statuses():
    assert protocol.widget_status("success", version=protocol.LEGACY) == "success"
    assert protocol.widget_status("cancelled", version=protocol.LEGACY) == "cancelled"


def test_the_version_comes_from_the_query_string():
    assert protocol.requested_version(b"") == protocol.CURRENT
    assert protocol.requested_version(b"token=abc") == protocol.CURRENT
    assert protocol.requested_version(b"protocol=2&token=abc") == protocol.CURRENT == 2
    assert protocol.requested_version(b"protocol=1") == 1
    for bad in (b"protocol=3", b"protocol=two", b"protocol="):
        with pytest.raises(protocol.UnknownVersion):
            protocol.requested_version(bad)
