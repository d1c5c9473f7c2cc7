"""The one long-lived child process that runs Cairn's core, and the JSON-lines protocol to it.

Requests go to the core's stdin, one per line; responses come back on its stdout, matched by
``id``; the core's stderr (its warnings: storage trouble, slow publishing) is forwarded to
this process's ``sys.stderr``, so a notebook shows them. Closing the core's stdin tells it to
stop whatever experiments still run, publish what is pending, and exit.

The core runs in a session of its own: a Ctrl-C in the terminal (or a signal to the whole
process group) reaches Python only, and Python decides, at exit, to close the core's stdin and
wait for it. That way a script that catches KeyboardInterrupt can still record a last
checkpoint, and the experiment ends "stopped" once, not twice.
"""

from __future__ import annotations

import collections
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Optional

from ._discover import INSTALL_ADVICE, find_core
from ._wire import decode_line, encode_line
from .errors import CairnError, CoreError, CoreNotFoundError, error_from_wire

PROTOCOL_VERSION = 2
HELLO_TIMEOUT_SECONDS = 60.0


def _write_stderr(text: str) -> None:
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except Exception:  # noqa: BLE001 - a closed stream at interpreter exit is no reason to fail
        pass


class _Slot:
    __slots__ = ("event", "result", "error")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.result: Any = None
        self.error: Optional[BaseException] = None


class Core:
    """A running core process. Thread-safe: requests from several threads interleave."""

    def __init__(self, command: List[str]) -> None:
        self.command = list(command)
        self.owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: Dict[int, _Slot] = {}
        self._next_id = 0
        self._death: Optional[str] = None
        self._dead = threading.Event()
        self._stderr_tail: Deque[str] = collections.deque(maxlen=40)
        self._stdout_garbage: Deque[str] = collections.deque(maxlen=5)
        self._stderr_buffer: List[str] = []
        self._forwarding = False
        self._stderr_lock = threading.Lock()
        env = dict(os.environ)
        # The binding resolves the repository itself at each call (os.environ may change after
        # the core starts); the core must not fall back on a stale copy.
        env.pop("CAIRN_REPOSITORY", None)
        options: Dict[str, Any] = {}
        if os.name == "posix":
            options["start_new_session"] = True
        elif hasattr(subprocess, "CREATE_NEW_PROCESS_GROUP"):
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        try:
            self.process = subprocess.Popen(
                self.command + ["_rpc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **options
            )
        except OSError as error:
            raise CoreNotFoundError(f"Cannot start Cairn's core `{self.describe()}`: {error.strerror or error}. {INSTALL_ADVICE}") from None
        self._stderr_thread = threading.Thread(target=self._read_stderr, name="cairn-core-stderr", daemon=True)
        self._stderr_thread.start()
        threading.Thread(target=self._read_responses, name="cairn-core-stdout", daemon=True).start()
        try:
            hello = self.call("hello", {"client": {"language": "python", "version": sys.version.split()[0]}}, timeout=HELLO_TIMEOUT_SECONDS)
        except CairnError as error:
            self.kill()
            raise CoreNotFoundError(
                f"`{self.describe()}` did not answer as Cairn's core: {str(error).rstrip('.')}. It may be another program named cairn, or a Cairn older than this binding. {INSTALL_ADVICE}"
            ) from None
        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL_VERSION:
            self.kill()
            raise CoreNotFoundError(
                f"`{self.describe()}` speaks protocol {hello.get('protocol') if isinstance(hello, dict) else '?'}, this binding protocol {PROTOCOL_VERSION}: install matching versions of the cairn npm and Python packages."
            )
        self.version = str(hello.get("version", "unknown"))
        self._start_forwarding()

    def describe(self) -> str:
        return " ".join(shlex.quote(part) for part in self.command)

    @property
    def alive(self) -> bool:
        return self._death is None

    # -- requests -------------------------------------------------------------------------

    def call(self, method: str, params: Dict[str, Any], timeout: Optional[float] = None) -> Any:
        """Sends one request and waits for its response; raises the matching CairnError."""
        if os.getpid() != self.owner_pid:
            raise CoreError("Cairn objects cannot be used in a forked child process (e.g. a DataLoader worker); use them in the main process.")
        slot = _Slot()
        with self._lock:
            if self._death is not None:
                raise CoreError(self._death)
            self._next_id += 1
            request_id = self._next_id
            line = encode_line({"id": request_id, "method": method, "params": params})
            self._pending[request_id] = slot
            try:
                self._write(line)
                written = True
            except (OSError, ValueError):
                self._pending.pop(request_id, None)
                written = False
        if not written:
            # The core has exited (a broken pipe): wait for the reader to learn how, and say so.
            self._dead.wait(5)
            raise CoreError(self._death or f"Cairn's core `{self.describe()}` is not running any more.")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # A timed wait in a loop: Ctrl-C interrupts it everywhere (a bare wait() may not on Windows).
            while not slot.event.wait(0.25):
                if deadline is not None and time.monotonic() > deadline:
                    raise CoreError(f"Cairn's core did not answer {method} within {timeout:.0f} s.")
        finally:
            if not slot.event.is_set():
                with self._lock:
                    self._pending.pop(request_id, None)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _write(self, line: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        # A signal handler that raises (Ctrl-C, SIGTERM) in the middle of a write would leave
        # half a line in the pipe and garble the next request: hold signals for the write.
        blocked = None
        if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            stdin.write(line)
            stdin.flush()
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    # -- the reader threads ---------------------------------------------------------------

    def _read_responses(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            for line in iter(stdout.readline, b""):
                try:
                    message = decode_line(line)
                except ValueError:
                    self._stdout_garbage.append(line.decode("utf-8", "replace").strip()[:200])
                    continue
                if not isinstance(message, dict):
                    continue
                with self._lock:
                    slot = self._pending.pop(message.get("id"), None) if isinstance(message.get("id"), int) else None
                if slot is None:
                    if message.get("id") is None and isinstance(message.get("error"), dict):
                        _write_stderr(f"cairn: the core rejected a request: {message['error'].get('message')}\n")
                    continue
                if isinstance(message.get("error"), dict):
                    slot.error = error_from_wire(message["error"])
                else:
                    slot.result = message.get("result")
                slot.event.set()
        except Exception as error:  # noqa: BLE001 - reported to every waiting call below
            self._stdout_garbage.append(f"(reading the core's output failed: {error})")
        code = self.process.wait()
        # What the core said last (why it exited) belongs in the message: read it all first.
        self._stderr_thread.join(timeout=5)
        self._die(self._death_message(code))

    def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        for raw in iter(stderr.readline, b""):
            text = raw.decode("utf-8", "replace")
            self._stderr_tail.append(text.rstrip("\n"))
            with self._stderr_lock:
                if not self._forwarding:
                    self._stderr_buffer.append(text)
                    continue
            _write_stderr(text)

    def _start_forwarding(self) -> None:
        with self._stderr_lock:
            buffered, self._stderr_buffer = self._stderr_buffer, []
            self._forwarding = True
        for text in buffered:
            _write_stderr(text)

    def _death_message(self, code: Optional[int]) -> str:
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        said = [line for line in list(self._stderr_tail)[-8:] if line.strip()] if not self._forwarding else []
        garbage = list(self._stdout_garbage)
        parts = [f"Cairn's core `{self.describe()}` {how}"]
        if said:
            parts.append("; it said: " + " | ".join(said))
        if garbage:
            parts.append("; unexpected output: " + " | ".join(garbage))
        return "".join(parts) + "."

    def _die(self, reason: str) -> None:
        with self._lock:
            if self._death is None:
                self._death = reason
            pending, self._pending = self._pending, {}
        self._dead.set()
        for slot in pending.values():
            slot.error = CoreError(reason)
            slot.event.set()

    # -- the end --------------------------------------------------------------------------

    def close(self) -> Optional[int]:
        """
        Closes the core's stdin (it then stops running experiments, publishes what is pending,
        and exits) and waits for it to exit. Returns the exit code. A slow wait is announced by
        the core itself, on its stderr, which is forwarded here.
        """
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        while True:
            try:
                # In short waits, so that a Ctrl-C (KeyboardInterrupt) is seen at once.
                return self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


_core: Optional[Core] = None
_core_lock = threading.Lock()


def get_core() -> Core:
    """The core of this process, started on first use (and again if it has died)."""
    global _core
    with _core_lock:
        if _core is None or not _core.alive or _core.owner_pid != os.getpid():
            _core = Core(find_core())
        return _core


def current_core() -> Optional[Core]:
    """The core if one was started by this process, without starting one."""
    core = _core
    if core is None or core.owner_pid != os.getpid():
        return None
    return core


def _forget_after_fork() -> None:
    # A forked child (a DataLoader worker) must not talk on its parent's pipes, nor stop the
    # parent's experiments when it exits.
    global _core, _core_lock
    _core = None
    _core_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
