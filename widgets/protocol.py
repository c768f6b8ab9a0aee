"""The widget socket protocol's versions and its status vocabulary, kept at the edge.

Executions have the engine's statuses (`running`, `paused`, `success`, `error`,
`cancelled`); widget frames speak the reference's `workflowStatus` (`PENDING`, `COMPLETED`,
`FAILED`). The translation happens here and only here, when a frame is built.
"""

from __future__ import annotations

from urllib.parse import parse_qs

# 1: widget frames carry the engine's statuses, as they did before version 2 (a client
#    written to those frames asks for it with ?protocol=1).
# 2: widget frames carry the reference's statuses, the engine's in `executionStatus`; what a
#    socket that names no version gets, so a client written against the reference works as is.
LEGACY = 1
CURRENT = 2
VERSIONS = (LEGACY, CURRENT)

# A cancelled execution did not complete: FAILED, the reference's one "ended without a
# result" status, so a client stops as it does for a failure; `executionStatus` tells which.
WIDGET_STATUSES = {
    "running": "PENDING",
    "paused": "PENDING",
    "success": "COMPLETED",
    "error": "FAILED",
    "cancelled": "FAILED",
}


class UnknownVersion(ValueError):
    """The client asked for a protocol version this server does not speak."""


def requested_version(query_string: bytes) -> int:
    """The version a socket asks for with `?protocol=N`; CURRENT when it names none."""
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("protocol")
    if not values:
        return CURRENT
    try:
        version = int(values[0])
    except ValueError:
        raise UnknownVersion(values[0]) from None
    if version not in VERSIONS:
        raise UnknownVersion(values[0])
    return version


def widget_status(status: str, *, version: int = CURRENT) -> str:
    """The `status` a widget frame carries for an execution status, in `version`'s terms."""
    if version == LEGACY:
        return status
    return WIDGET_STATUSES.get(status, status)
