"""Wake workers when work becomes ready: the store's notification (delivered at commit)
for workers in any process, and in-process events for workers in this one."""

from __future__ import annotations

import threading

from django.db import transaction

from . import store

_listeners: set[threading.Event] = set()
_lock = threading.Lock()


def subscribe(event: threading.Event) -> None:
    with _lock:
        _listeners.add(event)


def unsubscribe(event: threading.Event) -> None:
    with _lock:
        _listeners.discard(event)


def wake_local() -> None:
    with _lock:
        for event in _listeners:
            event.set()


def wake_after_commit() -> None:
    """Wake every worker once the current transaction commits (at once outside one)."""
    store.notify_workers()
    transaction.on_commit(wake_local)
