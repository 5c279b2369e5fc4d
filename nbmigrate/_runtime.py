"""Run Alembic work contained: serialised, off the kernel's event loop, with everything it emits captured.

Alembic's command layer keeps module globals (``alembic.context``, ``alembic.op``), prints to
``sys.stdout``, reconfigures logging from the ini file, and may call ``sys.exit``. In a kernel,
all of that must stay inside one call: :func:`contained` runs a function in a worker thread (so
an ``env.py`` that calls ``asyncio.run`` works although the kernel runs an event loop), one call
at a time, and returns what it printed, logged and executed as a :class:`Capture`.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import logging.config
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# One lock for every piece of nbmigrate work in this process: magics, widget callbacks and
# Python calls. Re-entrant so a command can call another (``%%revision --apply`` upgrades).
_LOCK = threading.RLock()
_worker = threading.local()


@dataclass
class StepEvent:
    """One migration step as Alembic announced it, with the SQL that ran while it was current."""

    step: Any
    started: float
    finished: float | None = None
    sql: list[str] = field(default_factory=list)


@dataclass
class Capture:
    """What a contained call printed, warned, logged and executed."""

    output: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    steps: list[StepEvent] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    transactional_ddl: bool | None = None
    failed_statement: str | None = None
    recording: bool = False

    @property
    def text(self) -> str:
        """Everything printed, as one string."""
        return "".join(self.output)


# Progress for the calling thread: each of the first EVERY_STEP steps, then the latest step at most
# every PROGRESS_INTERVAL seconds. Waking the calling thread for every step of a long run makes
# the two threads hand the GIL to each other thousands of times and redraw the progress line each
# time: a fifth of a 1,000-revision upgrade, measured in benchmarks/.
EVERY_STEP = 20
PROGRESS_INTERVAL = 0.1


class _Events:
    """What the worker tells the calling thread: steps (the first ones all, then some) and the end."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self._held: tuple[str, int, Any] | None = None  # the latest step not sent yet
        self._lock = threading.Lock()
        self._sent = 0
        self._last = 0.0

    def put(self, event: tuple[str, int, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            if event[0] == "step" and self._sent >= EVERY_STEP and now - self._last < PROGRESS_INTERVAL:
                self._held = event  # the caller picks it up when it next looks
                return
            self._held = None
            self._sent += 1
            self._last = now
        self.queue.put(event)

    def held(self) -> tuple[str, int, Any] | None:
        """The latest step the worker held back, once."""
        with self._lock:
            event, self._held = self._held, None
        return event


class _StepHandler(logging.Handler):
    """Turns Alembic's ``Running upgrade a -> b`` log records into step events."""

    def __init__(self, capture: Capture, events: _Events) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        now = time.perf_counter()
        if record.msg == "Running %s" and record.args:
            step = record.args[0] if isinstance(record.args, tuple) else record.args
            if self.capture.steps and self.capture.steps[-1].finished is None:
                self.capture.steps[-1].finished = now
            self.capture.steps.append(StepEvent(step=step, started=now))
            self.events.put(("step", len(self.capture.steps), step))
            return
        if record.msg == "Will assume %s DDL." and record.args and self.capture.recording:
            self.capture.transactional_ddl = record.args[0] == "transactional"
        if record.levelno >= logging.INFO:
            self.capture.log.append(f"{record.levelname} [{record.name}] {record.getMessage()}")


class _Tee(io.TextIOBase):
    """A text stream that collects writes into a list."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        self.sink.append(text)
        return len(text)

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def _captured(capture: Capture, events: _Events) -> Iterator[None]:
    """Capture stdout, warnings, Alembic logging and executed SQL; keep the kernel's logging."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    thread = threading.get_ident()

    def on_execute(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if threading.get_ident() != thread or not capture.recording:
            return
        capture.sql.append(statement)
        if capture.steps:
            capture.steps[-1].sql.append(statement)

    def on_error(exception_context: Any) -> None:
        if threading.get_ident() == thread:
            capture.failed_statement = exception_context.statement

    alembic_logger = logging.getLogger("alembic")
    saved = (alembic_logger.level, alembic_logger.propagate, list(alembic_logger.handlers), alembic_logger.disabled)
    handler = _StepHandler(capture, events)
    alembic_logger.handlers = [handler]
    alembic_logger.setLevel(logging.INFO)
    alembic_logger.propagate = False
    alembic_logger.disabled = False
    # An env.py made by ``alembic init`` calls fileConfig(alembic.ini), which would replace the
    # kernel's handlers and disable its loggers. Inside nbmigrate that call does nothing.
    real_file_config = logging.config.fileConfig
    logging.config.fileConfig = _no_file_config  # type: ignore[assignment]
    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "handle_error", on_error)
    sink = _Tee(capture.output)
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sink):
            warnings.simplefilter("always")
            try:
                yield
            finally:
                capture.warnings.extend(str(w.message) for w in caught)
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "handle_error", on_error)
        logging.config.fileConfig = real_file_config  # type: ignore[assignment]
        level, propagate, handlers, disabled = saved
        alembic_logger.handlers = handlers
        alembic_logger.setLevel(level)
        alembic_logger.propagate = propagate
        alembic_logger.disabled = disabled
        if capture.steps and capture.steps[-1].finished is None:
            capture.steps[-1].finished = time.perf_counter()


def _no_file_config(*args: Any, **kwargs: Any) -> None:
    return None


class Exit(Exception):
    """Alembic asked to exit the process (``sys.exit``); carried out of the worker as an error."""

    def __init__(self, code: object) -> None:
        super().__init__(f"exit status {code}")
        self.code = code


def contained(
    fn: Callable[[], T],
    *,
    on_event: Callable[[str, int, Any], None] | None = None,
) -> tuple[T | None, Capture, BaseException | None]:
    """Run ``fn`` serialised in a worker thread with its output captured.

    Returns ``(value, capture, error)``: exactly one of value/error is meaningful. ``on_event``
    receives progress events (``"step", n, step``) in the calling thread while ``fn`` runs: each
    of the first :data:`EVERY_STEP` steps, then the latest at most every :data:`PROGRESS_INTERVAL`
    seconds, and the last step before the end.
    A ``KeyboardInterrupt`` in the calling thread is raised inside the worker too, so the
    migration stops at a statement boundary and its transaction is rolled back; the call then
    returns the interruption as its error once the worker has finished.
    """
    capture = Capture()
    events = _Events()
    with _LOCK:
        if getattr(_worker, "active", False):
            # Already inside a contained call (a command calling a command): run inline.
            try:
                return fn(), capture, None
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                return None, capture, exc
        box: dict[str, Any] = {}

        def body() -> None:
            _worker.active = True
            _worker.capture = capture
            try:
                with _captured(capture, events):
                    box["value"] = fn()
            except SystemExit as exc:
                box["error"] = Exit(exc.code)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box["error"] = exc
            finally:
                _worker.active = False
                events.put(("done", 0, None))

        worker = threading.Thread(target=body, name="nbmigrate", daemon=True)
        worker.start()
        interrupted = False
        while True:
            try:
                kind, n, payload = events.queue.get(timeout=0.05)
            except queue.Empty:
                held = events.held()
                if held is not None and on_event is not None:
                    on_event(*held)
                continue
            except KeyboardInterrupt:
                interrupted = True
                _raise_in(worker, KeyboardInterrupt)
                continue
            if kind == "done":
                held = events.held()
                if held is not None and on_event is not None:
                    on_event(*held)  # the last step, when it was held back
                break
            if on_event is not None:
                on_event(kind, n, payload)
        worker.join()
        error = box.get("error")
        if interrupted and error is None:
            error = KeyboardInterrupt()
        return box.get("value"), capture, error


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` asynchronously in ``thread`` (at its next Python bytecode)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Record the SQL executed inside this block (the migration's own, not nbmigrate's reads)."""
    capture: Capture | None = getattr(_worker, "capture", None)
    if capture is None:
        yield
        return
    saved = capture.recording
    capture.recording = True
    try:
        yield
    finally:
        capture.recording = saved


def in_worker() -> bool:
    """True inside a :func:`contained` call."""
    return bool(getattr(_worker, "active", False))

