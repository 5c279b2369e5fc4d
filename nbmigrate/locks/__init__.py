"""The migration run's hold on its database: the lock that serialises runs, and what a run committed.

Every command that writes to the database (``upgrade``, ``downgrade``, ``stamp``; ``%%revision
--apply`` and the graph widget's actions go through them) runs inside :func:`migration_lock`, and
nbmigrate's ``env.py`` takes the same lock when the ``alembic`` command line runs it. So two
kernels, or a kernel and the command line, never apply a revision twice: the second run waits,
says so, and then finds the revisions already applied.

==============  =================================================================================
PostgreSQL      ``pg_try_advisory_lock(key)``, polled. ``key`` is a 64-bit hash of the version
                table's :class:`LockKey`; advisory locks are per database already. A
                connection already inside the caller's transaction gets the transaction-level
                ``pg_try_advisory_xact_lock`` instead, so nothing of the caller's is committed.
MySQL/MariaDB   ``GET_LOCK(name, 0)``, polled. ``name`` holds the version table's database and
                name (MySQL lock names are server-wide).
SQLite          an OS lock (``flock``) on a file beside the database, ``<database>.nbmigrate-lock``,
                for the whole run, and the database's write lock (``BEGIN IMMEDIATE``), taken
                by each transaction of the run itself; both polled without waiting in the OS or
                in SQLite.
==============  =================================================================================

The lock stands for the version table as the database resolves it (:func:`lock_key`), not for
the words of the configuration: ``version_table_schema = public`` and no schema at all name one
``alembic_version`` on PostgreSQL, as the database's own name and none do on MySQL, so they take
one lock. No schema means, on PostgreSQL, the schema where the unqualified name is found (the
first schema on ``search_path`` holding the table), or where it would be created when none
does (``current_schema()``), exactly where Alembic would read or create it; on MySQL the
connection's ``DATABASE()``; on SQLite ``main``, whose file the lock is. Names are compared as
the server compares them: PostgreSQL exactly as given (SQLAlchemy quotes a name that is not all
lower case, so ``Alembic_Version`` is a table of its own), MySQL folded to lower case when
``lower_case_table_names`` says the server does, SQLite without case.

Why a file for SQLite: the write lock on nbmigrate's own connection cannot cover an ``env.py``
that opens a connection of its own (one made by ``alembic init``), nor the time between two of
the run's transactions. The file lock is held from before nbmigrate reads the heads until the
run has ended, by every nbmigrate run and by nbmigrate's ``env.py`` under the ``alembic``
command line, so those never overlap, whatever connections they use; the write lock still
keeps out other writers for as long as each transaction lasts. The file holds the holder's
process id (for the message a waiting run shows) and is removed when the lock is let go; a
waiter that opened it just before checks that it is still the file at that path. Where the
file cannot be made (a read-only folder, an in-memory database), only the write lock is taken.

Why the write lock is taken per transaction: a write lock held on the run's connection before Alembic starts would put
Alembic's transaction inside ours (SQLite cannot nest ``BEGIN``, and Alembic, seeing a connection
already in a transaction, commits nothing), and one held on a second connection would block the
run's own writes. So while the lock is held, the transactional-SQLite ``begin`` hook (in
:func:`nbmigrate.project.transactional_sqlite` and nbmigrate's ``env.py``) calls
``conn.info["nbmigrate.begin"]``, which begins with ``BEGIN IMMEDIATE``, polling and announcing a
wait like the other databases. Alembic reads ``alembic_version`` inside that transaction, so a run
that waited applies only what the other left to do. The lock is also probed once on entry, so
in the common case the wait happens before nbmigrate reads the heads; when another run slips in
between nbmigrate's reading and Alembic's transaction, the wait is announced all the same and
:mod:`nbmigrate.commands` says that the steps Alembic ran differ from those it planned.
Limits, against writers other than nbmigrate (the file lock keeps nbmigrate's own runs apart
in every case): through an ``Engine`` of your own, without nbmigrate's ``begin`` hook, an SQLite
run only gets the probe on entry; and an ``env.py`` with ``transaction_per_migration=True``, or
one of its own, lets go of the write lock between two revisions, where another writer could
take it (nbmigrate's ``env.py`` runs all revisions in one transaction).

However the lock ends (taken, timed out, failed, interrupted), the SQLite connection's
``busy_timeout`` is given back exactly as the caller had it, and no transaction the lock began
is left open.

The lock is re-entrant within a thread (a command that runs a command does not wait for itself).
A wait is announced through ``notify(text)`` as it starts and, once the lock is taken, as a
warning in the command's result. After ``timeout`` seconds the run ends with :class:`LockTimeout`.
Other databases run without a lock.

:func:`watch_commits` records which statements of a run the database kept, for failure reports:
what was committed (explicitly, by an ``autocommit_block``, implicitly by MySQL's DDL, or by a
``COMMIT`` statement of the migration's own), on whichever connection the run's thread used.
After each statement it asks the driver whether a transaction is still open (pysqlite's
``in_transaction``, psycopg's transaction status, PyMySQL's server status), so a statement the
database ran outside any transaction (pysqlite's DDL, anything after a ``COMMIT`` of the
migration's own on transactional SQLite) is known to have stayed.

The package, one idea per module (each imports its siblings, never the package):

==============  =================================================================================
``hold``        :func:`migration_lock` and :func:`database_lock`: the lock around a run, re-entrant
                per thread, and which kind of lock each database gets.
``key``         :class:`LockKey` and :func:`lock_key`: the version table as the database resolves it.
``wait``        taking a lock: polling, the notice of a wait, the warning after one,
                :class:`LockTimeout`; :func:`print_notice`.
``base``        ``_Lock``, what every kind of database's lock does; ``Notify``.
``server``      PostgreSQL's advisory lock, MySQL's and MariaDB's ``GET_LOCK``.
``sqlite``      SQLite's lock: the lock file for the run, ``BEGIN IMMEDIATE`` per transaction.
``filelock``    the OS lock on a file (``flock``; ``msvcrt.locking`` on Windows).
``commits``     :func:`watch_commits` and the :class:`Journal` of what a run committed.
==============  =================================================================================
"""

from __future__ import annotations

from .base import Notify
from .commits import (
    Ended,
    Journal,
    Statement,
    commits_implicitly,
    driver_in_transaction,
    transaction_control,
    watch_commits,
)
from .hold import database_lock, migration_lock
from .key import LockKey, lock_key
from .sqlite import SQLITE_BEGIN_KEY, SQLITE_LOCK_SUFFIX
from .wait import POLL_SECONDS, print_notice

__all__ = [
    "POLL_SECONDS",
    "SQLITE_BEGIN_KEY",
    "SQLITE_LOCK_SUFFIX",
    "Ended",
    "Journal",
    "LockKey",
    "Notify",
    "Statement",
    "commits_implicitly",
    "database_lock",
    "driver_in_transaction",
    "lock_key",
    "migration_lock",
    "print_notice",
    "transaction_control",
    "watch_commits",
]
