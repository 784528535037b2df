"""A blocking client call with a hard bound, for calls whose own timeout librdkafka does not
always honour: ``send_offsets_to_transaction`` can block for good when the group coordinator
it cached was a broker that died (librdkafka issues #5456 and #5511, open as of 2.16). The
call runs on a helper thread; past the bound the caller gets ``CallStuck`` and must stop using
the client (it is still inside the call)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


class CallStuck(Exception):
    """The call did not return within its bound; it may still be running."""


def call_bounded(call: Callable[[], _T], bound_s: float, what: str) -> _T:
    """``call()``'s result or exception, or ``CallStuck`` after ``bound_s`` seconds."""
    done = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"bounded {what}", daemon=True).start()
    if not done.wait(bound_s):
        raise CallStuck(f"{what} did not return within {bound_s:.0f} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
