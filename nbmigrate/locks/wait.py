"""Taking a lock: polling it, announcing the wait, warning once taken after one, giving up after the timeout."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import _runtime
from ..errors import LockTimeout

if TYPE_CHECKING:
    from .base import _Lock

POLL_SECONDS = 0.1  # how often a waiting run tries the lock again


def print_notice(text: str) -> None:
    """The default ``notify``: one line on standard error."""
    print(f"nbmigrate: {text}", file=sys.stderr, flush=True)


def _acquire(lock: _Lock, attempt: Callable[[], bool] | None = None) -> None:
    """Take ``lock``, polling; announce a wait, warn once taken after one, give up after its timeout."""
    attempt = attempt or lock.try_acquire
    started = time.monotonic()
    if attempt():
        return
    waiting = f"the migration lock on {lock.where}: {lock.holder()} is migrating this database"
    if lock.notify is not None:
        lock.notify(f"Waiting for {waiting} (up to {lock.timeout:g} s)…")
    with _runtime.interruptible():  # Ctrl-C while waiting: stop here, nothing has run
        _wait(lock, attempt, started, waiting)
    waited = time.monotonic() - started
    warnings.warn(
        f"Waited {waited:.1f} s for {waiting}; this run started once it had finished, from the "
        "revisions it left.",
        stacklevel=3,
    )


def _wait(lock: _Lock, attempt: Callable[[], bool], started: float, waiting: str) -> None:
    while True:
        _runtime.checkpoint()
        elapsed = time.monotonic() - started
        if elapsed >= lock.timeout:
            raise LockTimeout(
                f"Gave up after {elapsed:.0f} s waiting for {waiting}. Nothing was run. Let that run "
                "finish and try again, or wait longer: `%config MigrateMagics.lock_timeout = 300` "
                "(from Python: `project.lock_timeout = 300`)."
            )
        time.sleep(min(POLL_SECONDS, max(0.0, lock.timeout - elapsed)))
        if attempt():
            return
