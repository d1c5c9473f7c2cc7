"""The end of a training script: experiments still running are stopped, their writes finished.

- Normal exit, an uncaught exception, ``sys.exit()`` and Ctrl-C (KeyboardInterrupt) all run
  ``atexit`` handlers: ours closes the core's stdin, and the core stops every experiment still
  running, publishes what is pending and exits; we wait for it. When that takes more than a
  moment the core says so (its stderr is forwarded here), with progress: one message, not one
  from each side. A second Ctrl-C leaves at once: the core, in a session of its own, goes on
  publishing in the background.
- SIGTERM would kill Python without running ``atexit``; while an experiment runs (and unless
  the script installed a handler of its own) it raises ``SystemExit(143)`` instead, so
  ``finally`` blocks and the above run too.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from typing import Any, Dict, Optional

from ._core import _write_stderr, current_core

_running: Dict[str, Any] = {}
_previous_sigterm: Any = None
_installed = False


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def started(experiment: Any) -> None:
    """Called by init(): this experiment must be stopped when the interpreter ends."""
    global _previous_sigterm, _installed
    _running[experiment.id] = experiment
    if _installed or not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current in (signal.SIG_DFL, None):
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)
        _installed = True


def stopped(experiment: Any) -> None:
    """Called by stop(): once nothing runs, the script gets its own SIGTERM behaviour back."""
    global _installed
    _running.pop(experiment.id, None)
    if _running or not _installed or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, _previous_sigterm if _previous_sigterm is not None else signal.SIG_DFL)
    _installed = False


def running_ids() -> list:
    return list(_running)


def finish() -> Optional[int]:
    """Stops what still runs and waits for the core to exit. Registered with atexit."""
    core = current_core()
    if core is None:
        return None
    try:
        # No message of our own while waiting: the core announces the wait, worded for us, and
        # shows progress (src/rpc/server.ts).
        code = core.close()
    except (KeyboardInterrupt, SystemExit):
        # A second Ctrl-C (or SIGTERM) while waiting: leave; the core, in its own session, goes on.
        _write_stderr("cairn: leaving now; Cairn's core goes on publishing in the background (\"cairn ps\" shows when it is done).\n")
        return None
    _running.clear()
    return code


def _forget_after_fork() -> None:
    global _installed
    _running.clear()
    _installed = False


atexit.register(finish)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
