"""A call that must not hang its caller (W&B over a network that may stop answering)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def call_with_timeout(fn: Callable[[], Any], seconds: float) -> tuple[bool, Any]:
    """(True, fn()) if `fn` returns within `seconds`, its exception raised here if it raises;
    (False, None) if not: it is abandoned in a daemon thread, never joined, not even at exit."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except Exception as e:  # noqa: BLE001 - handed to the caller
            outcome["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False, None
    if "error" in outcome:
        raise outcome["error"]
    return True, outcome.get("result")
