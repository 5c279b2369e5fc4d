"""Run Alembic work contained: serialised, off the kernel's event loop, with everything it emits captured.

Alembic's command layer keeps module globals (``alembic.context``, ``alembic.op``), prints to
``sys.stdout``, reconfigures logging from the ini file, and may call ``sys.exit``. In a kernel,
all of that must stay inside one call: :func:`contained` runs a function in a worker thread (so
an ``env.py`` that calls ``asyncio.run`` works although the kernel runs an event loop), one call
at a time, and returns what it printed, logged and executed as a :class:`Capture`.

Ctrl-C: the worker is never interrupted at an arbitrary bytecode (an exception landing in a
``finally`` block would leave a lock held or a patch in place). While a contained call runs, the
kernel's SIGINT only marks the call interrupted (:class:`_Gate`); the worker stops at the next
migration statement (:func:`checkpoint` raises :class:`Interrupted` there, and in a lock wait),
and a statement already running is cancelled through the canceller the run registered
(:func:`cancellable`). The calling thread always waits for the worker, so when the call returns,
every patch is undone and the database is where the result or the failure report says.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import logging.config
import queue
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# One lock for every piece of nbmigrate work in this process: magics, widget callbacks and
# Python calls. Re-entrant so a command can call another (``%%revision --apply`` upgrades).
LOCK = threading.RLock()
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
    announced: bool = False  # steps come from nbmigrate's own step functions, not Alembic's log
    interrupt: str = ""  # what a Ctrl-C did, in words ("" without one)

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


class Interrupted(Exception):
    """Raised in the worker at a statement boundary once the user pressed Ctrl-C.

    An ``Exception``, not a ``KeyboardInterrupt``: SQLAlchemy then leaves the connection usable
    (an exit exception invalidates it) and the migration's transaction rolls back as for any error.
    """

    def __init__(self) -> None:
        super().__init__("interrupted (KeyboardInterrupt)")


class _Gate:
    """One contained call's Ctrl-C: asked for by the calling thread, carried out by the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requested = False
        self.regions = 0  # > 0 while the worker may stop (migration statements, lock waits)
        self.executing = False  # a statement of the worker's is running in the database
        self.statement = ""  # the last statement the worker sent
        self.cancel: Callable[[str], str] | None = None
        self.outcome = ""

    def request(self) -> None:
        """Ctrl-C: stop at the next statement, and cancel the one running now, if any."""
        with self._lock:
            first, self.requested = not self.requested, True
            cancel = self.cancel if first and self.regions and self.executing else None
            statement = self.statement
        if cancel is not None:
            threading.Thread(target=self._cancel, args=(cancel, statement), name="nbmigrate-cancel", daemon=True).start()

    def _cancel(self, cancel: Callable[[str], str], statement: str) -> None:
        try:
            self.outcome = cancel(statement)
        except Exception as exc:  # noqa: BLE001 - the run still stops at its next statement
            self.outcome = f"could not cancel the running statement ({type(exc).__name__}); waited for it to finish"

    def checkpoint(self) -> None:
        if self.requested and self.regions:
            raise Interrupted

    def describe(self, stopped: bool) -> str:
        if not stopped:
            return "Ctrl-C came after the last statement had run: the run completed."
        return f"Ctrl-C {self.outcome or 'stopped the run before its next statement'}."


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
        if self.capture.announced:  # the run announces its steps itself (see announce_step)
            pass
        elif record.msg == "Running %s" and record.args:
            step = record.args[0] if isinstance(record.args, tuple) else record.args
            if self.capture.steps and self.capture.steps[-1].finished is None:
                self.capture.steps[-1].finished = now
            self.capture.steps.append(StepEvent(step=step, started=now))
            self.events.put(("step", len(self.capture.steps), step))
            return
        if record.msg == "Will assume %s DDL." and record.args and self.capture.recording and not self.capture.announced:
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
def _captured(capture: Capture, events: _Events, gate: _Gate) -> Iterator[None]:
    """Capture stdout, warnings, Alembic logging and executed SQL; keep the kernel's logging."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    thread = threading.get_ident()

    def on_execute(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if threading.get_ident() != thread or not capture.recording:
            return
        gate.checkpoint()  # Ctrl-C: the migration stops before this statement
        gate.statement, gate.executing = statement, True
        capture.sql.append(statement)
        if capture.steps:
            capture.steps[-1].sql.append(statement)

    def on_executed(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if threading.get_ident() == thread:
            gate.executing = False

    def on_error(exception_context: Any) -> None:
        if threading.get_ident() == thread:
            gate.executing = False
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
    event.listen(Engine, "after_cursor_execute", on_executed)
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
        event.remove(Engine, "after_cursor_execute", on_executed)
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

    Ctrl-C in the calling thread, wherever it lands (starting the worker, waiting, drawing
    progress), stops the worker at its next migration statement (see the module docstring); the
    call returns only once the worker has finished, with a ``KeyboardInterrupt`` as its error when
    the run stopped (its cause the error the run stopped with) and ``capture.interrupt`` saying
    what the interrupt did.
    """
    capture = Capture()
    events = _Events()
    with LOCK:
        if getattr(_worker, "active", False):
            # Already inside a contained call (a command calling a command): run inline.
            try:
                return fn(), capture, None
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                return None, capture, exc
        gate = _Gate()
        box: dict[str, Any] = {}

        def body() -> None:
            _worker.active = True
            _worker.capture = capture
            _worker.gate = gate
            _worker.events = events
            try:
                with _captured(capture, events, gate):
                    box["value"] = fn()
            except SystemExit as exc:
                box["error"] = Exit(exc.code)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box["error"] = exc
            finally:
                _worker.active = False
                _worker.gate = None
                events.put(("done", 0, None))

        # The caller's context variables go with the work (Flask's application context, a
        # user's own contextvars): an env.py sees what the cell that ran the magic sees.
        worker = threading.Thread(target=contextvars.copy_context().run, args=(body,), name="nbmigrate", daemon=True)
        with _sigint_requests(gate):
            _until_done(worker, events, on_event, gate)
        error = box.get("error")
        if gate.requested:
            stopped = error is not None
            capture.interrupt = gate.describe(stopped)
            if stopped and not isinstance(error, (KeyboardInterrupt, Exit)):
                interrupt = KeyboardInterrupt()
                interrupt.__cause__ = None if isinstance(error, Interrupted) else error
                error = interrupt
        return box.get("value"), capture, error


def _until_done(
    worker: threading.Thread,
    events: _Events,
    on_event: Callable[[str, int, Any], None] | None,
    gate: _Gate,
) -> None:
    """Start ``worker`` and relay its events until it has finished, whatever interrupts this thread."""
    started = done = False
    while not done:
        try:
            if not started:
                worker.start()
                started = True
            done = _relay(events, on_event)
        except KeyboardInterrupt:  # raised here, not by SIGINT (see _sigint_requests): ask the worker
            gate.request()
            started = started or worker.ident is not None
    while worker.is_alive():
        try:
            worker.join(0.05)
        except KeyboardInterrupt:
            gate.request()


def _relay(events: _Events, on_event: Callable[[str, int, Any], None] | None) -> bool:
    """Pass one event (or the step held back) to ``on_event``; True once the worker is done."""
    try:
        kind, n, payload = events.queue.get(timeout=0.05)
    except queue.Empty:
        held = events.held()
        if held is not None and on_event is not None:
            on_event(*held)
        return False
    if kind == "done":
        held = events.held()
        if held is not None and on_event is not None:
            on_event(*held)  # the last step, when it was held back
        return True
    if on_event is not None:
        on_event(kind, n, payload)
    return False


@contextlib.contextmanager
def _sigint_requests(gate: _Gate) -> Iterator[None]:
    """While the block runs, the main thread's SIGINT asks ``gate`` to stop instead of raising.

    The handler in place (Python's own, which raises ``KeyboardInterrupt``, or one of the
    caller's) is put back afterwards. Where SIGINT is not Python's to handle (another thread,
    ``SIG_IGN``/``SIG_DFL``), nothing changes, and a ``KeyboardInterrupt`` raised some other way
    is caught by :func:`_until_done`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    signal.signal(signal.SIGINT, lambda signum, frame: gate.request())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def checkpoint() -> None:
    """Raise :class:`Interrupted` in the worker when the user interrupted (a place it may stop)."""
    gate: _Gate | None = getattr(_worker, "gate", None)
    if gate is not None:
        gate.checkpoint()


@contextlib.contextmanager
def interruptible(cancel: Callable[[str], str] | None = None) -> Iterator[None]:
    """A stretch of the worker's work that Ctrl-C may stop: at :func:`checkpoint` calls, and at
    every migration statement. ``cancel(statement)`` cancels ``statement`` if it is still the one
    running when Ctrl-C comes, and returns what it did, in words (see :mod:`nbmigrate.cancel`)."""
    gate: _Gate | None = getattr(_worker, "gate", None)
    if gate is None:
        yield
        return
    with gate._lock:
        gate.regions += 1
        saved, gate.cancel = gate.cancel, cancel or gate.cancel
    try:
        gate.checkpoint()
        yield
    finally:
        with gate._lock:
            gate.regions -= 1
            gate.cancel = saved
            gate.executing = False


@contextlib.contextmanager
def recording(cancel: Callable[[str], str] | None = None) -> Iterator[None]:
    """Record the SQL executed inside this block (the migration's own, not nbmigrate's reads).

    The block is :func:`interruptible`: Ctrl-C stops it before its next statement and, with
    ``cancel``, cancels the statement running.
    """
    capture: Capture | None = getattr(_worker, "capture", None)
    if capture is None:
        yield
        return
    saved = capture.recording
    capture.recording = True
    try:
        with interruptible(cancel):
            yield
    finally:
        capture.recording = saved


@contextlib.contextmanager
def announcing() -> Iterator[None]:
    """Inside this block the run announces its steps (:func:`announce_step`); Alembic's log lines are not read.

    Outside it (a command run through ``alembic.command`` itself) the steps are read from
    Alembic's ``Running ...`` log records, as a fallback.
    """
    capture: Capture | None = getattr(_worker, "capture", None)
    if capture is None:
        yield
        return
    saved = capture.announced
    capture.announced = True
    try:
        yield
    finally:
        capture.announced = saved


def announce_step(step: Any) -> None:
    """Alembic starts running ``step`` (a ``MigrationStep``): the SQL that follows is this step's."""
    capture: Capture | None = getattr(_worker, "capture", None)
    if capture is None:
        return
    now = time.perf_counter()
    if capture.steps and capture.steps[-1].finished is None:
        capture.steps[-1].finished = now
    capture.steps.append(StepEvent(step=step, started=now))
    events = getattr(_worker, "events", None)
    if events is not None:
        events.put(("step", len(capture.steps), step))


def announce_ddl(transactional: bool) -> None:
    """Whether the migration's DDL runs in its transaction (the dialect's ``transactional_ddl``)."""
    capture: Capture | None = getattr(_worker, "capture", None)
    if capture is not None and capture.recording:
        capture.transactional_ddl = transactional


def in_worker() -> bool:
    """True inside a :func:`contained` call."""
    return bool(getattr(_worker, "active", False))



def idle() -> bool:
    """True when no other thread is doing nbmigrate work now (the process's lock is free).

    Tried without waiting. The calling thread's own work does not count: the lock is re-entrant.
    """
    if not LOCK.acquire(blocking=False):
        return False
    LOCK.release()
    return True
