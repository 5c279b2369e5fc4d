"""On PostgreSQL, ``upgrade --preview`` proves the lint's claims: the lock each statement takes, and rewrites.

For every rule's risky form on PostgreSQL (tests/lint_cases.py), the preview runs the revisions in
a transaction that is rolled back, records after each statement what the backend holds
(``pg_locks``) and which tables got new storage (``relfilenode``), and sets the lint's claim
beside it. Each finding's lock must be the mode observed for its statement, and the verdict
"confirmed"; the database is left as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lint_cases import CASES, PG
from nbmigrate.errors import NbmigrateError
from nbmigrate.render.lint import proof_rows
from support import database_state
from test_lint import add_chain, base_project

PG_ORDER = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
            "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


def _provable(f: object) -> bool:
    # CONCURRENTLY runs outside a transaction (a preview refuses it); NBM003/NBM207 claim no lock of their own.
    return f.lock in PG_ORDER and "CONCURRENTLY" not in f.statement.upper() and f.code not in ("NBM003", "NBM207")


@pytest.mark.postgresql
@pytest.mark.parametrize("case", [c for c in CASES if set(c.dialects) & set(PG)], ids=lambda c: c.code)
def test_the_preview_observes_the_claimed_lock_of_each_statement(case: object, here: Path, pg_url: str) -> None:
    project = base_project(pg_url)
    risky = add_chain(project, "r", case.body("risky", "postgresql"))
    before = database_state(pg_url)
    try:
        result = project.run(f"upgrade {risky} --preview")
    except NbmigrateError as exc:  # refused on a table with rows (NBM101), or outside a transaction
        assert case.code in ("NBM101", "NBM202", "NBM204") or "autocommit" in str(exc), (case.code, str(exc))
        return
    finally:
        project.close()
    assert database_state(pg_url) == before
    claims = [f for f in result.lint.findings if f.code == case.code and _provable(f)]
    rows = proof_rows(result.lint, result.observed)
    for f in claims:
        [row] = [r for r in rows if r[2].startswith(f"{f.code}:") and " ".join(r[0].split()).lower().rstrip(";")
                 == " ".join(f.statement.replace(";", " ").split()).lower()]
        statement, seen, said, verdict = row
        assert verdict == "confirmed" or verdict.startswith("not told apart"), (f.code, row)
        [obs] = [o for o in result.observed if o.statement == statement]
        assert obs.held[f.table] == f.lock or obs.new.get(f.table) == f.lock, (f.code, obs)
        assert (f.table in obs.rewritten) == (f.rewrites or f.code == "NBM303"), (f.code, obs)  # TRUNCATE: new, empty storage
