"""Benchmark: ``%migrate`` in a warm kernel against Alembic's own commands and the database's own work.

For synthetic Alembic projects of several sizes (nbmigrate's ``env.py``; every revision creates one
table and its downgrade drops it), linear and with a fork and merge every 50 revisions
(:func:`bench_graph.history`), times in the same run:

``read``
    ``%migrate heads`` / ``history`` / ``current`` through a real IPython shell
    (``run_line_magic`` plus the HTML rendering a notebook shows; warm: the project was used
    before), against the ``alembic`` command line of this environment (one process per call)
    and a cold in-process ``alembic.command`` call (a new ``Config``, so a new
    ``ScriptDirectory`` that imports every revision file again, as Alembic does on every
    command). The three run in turn, repeat after repeat; each warm answer is first checked
    against Alembic's.
``graph``
    warm ``%migrate graph`` (the widget with its SVG) against Alembic's loading of the same
    ScriptDirectory.
``migrate``
    ``upgrade heads`` then ``downgrade base`` on an empty database: ``alembic.command``,
    ``%migrate`` with its before/after schema (the default) and with ``--no-schema``, and the
    floor: the very statements Alembic's ``--sql`` mode writes for the run, executed directly,
    one by one in the one transaction Alembic uses (``floor_stmt``) and as one script
    (``floor_script``, one ``executescript`` on SQLite, one multi-statement ``execute`` on
    PostgreSQL). After each run the schema and ``alembic_version`` are compared with what
    ``alembic.command`` left, and the steps with the revisions Alembic ran (``checks``).
``load_ext``
    ``%load_ext nbmigrate`` in a fresh IPython process against ``import alembic, sqlalchemy``
    in a fresh Python process, and the first command after each (:func:`measure_startup`).

:func:`run` returns one dict per measurement; ``benchmarks/run.py`` prints them side by side.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # run from a checkout without installing
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_graph import SHAPES, history  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

# One table per revision; a merge revision changes nothing (as merges usually do).
TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down_text}
Create Date: 2024-01-01 00:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
{upgrade}


def downgrade() -> None:
    """Downgrade schema."""
{downgrade}
'''

CREATE = '''    op.create_table(
        "t_{rev}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
    )'''
DROP = '    op.drop_table("t_{rev}")'

READS = ("heads", "history", "current")


# -- projects and databases ------------------------------------------------------------------


def make_project(root: Path, n: int, shape: str, url: str) -> Path:
    """A project in ``root`` (nbmigrate's template) with ``n`` revision files; returns its alembic.ini."""
    from alembic import command
    from alembic.config import Config

    from nbmigrate.project import TEMPLATE_DIR

    ini = root / "alembic.ini"
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), _cwd(root):
        command.init(Config(str(ini), stdout=quiet), "migrations", template=str(TEMPLATE_DIR))
    text = ini.read_text()
    text = re.sub(r"(?m)^sqlalchemy\.url = .*$", lambda _: "sqlalchemy.url = " + url.replace("%", "%%"), text)
    ini.write_text(text)
    versions = root / "migrations" / "versions"
    for index, (rev, down) in enumerate(history(n, shape)):
        merge = isinstance(down, tuple)
        text = TEMPLATE.format(
            message=f"step {index}",
            rev=rev,
            down=down,
            down_text=", ".join(down) if merge else (down or ""),
            upgrade="    pass" if merge else CREATE.format(rev=rev),
            downgrade="    pass" if merge else DROP.format(rev=rev),
        )
        (versions / f"{rev}_step_{index}.py").write_text(text)
    return ini


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """An empty database: a SQLite file in ``folder``, or a new PostgreSQL database (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    import sqlalchemy as sa

    server = os.environ.get("NBMIGRATE_TEST_POSTGRESQL_URL")
    if not server:
        raise RuntimeError("set NBMIGRATE_TEST_POSTGRESQL_URL to benchmark PostgreSQL")
    base = sa.make_url(server)
    name = f"nbm_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def reset(url: str) -> None:
    """Drop every table, so the next run starts from an empty database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                for table in reversed(md.sorted_tables):
                    conn.exec_driver_sql(f'DROP TABLE "{table.name}"')
            else:
                names = ", ".join(f'"{t.name}"' for t in md.sorted_tables)
                if names:
                    conn.exec_driver_sql(f"DROP TABLE {names} CASCADE")
    finally:
        engine.dispose()


# -- timing helpers --------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` takes, starting with no garbage left by whatever ran before.

    Contenders take turns, and a cold Alembic command leaves thousands of module objects behind:
    without the collection first, the next contender (often a warm magic of a few milliseconds)
    would pay for collecting them. The collection of ``fn``'s own garbage still counts.
    """
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median(fn: Callable[[], Any], repeat: int) -> float:
    return statistics.median(_timed(fn) for _ in range(repeat))


_SHELL: Any = None


def _shell() -> Any:
    """One real IPython shell with nbmigrate loaded, showing results as a notebook does (made once).

    A notebook renders each result as HTML as well as text, and updates displays in place (so
    nbmigrate shows progress): the terminal shell gets the HTML formatter switched on and a
    display publisher that accepts what a front end would receive and drops it.
    """
    global _SHELL
    if _SHELL is not None:
        return _SHELL
    from IPython.core.displaypub import DisplayPublisher
    from IPython.testing.globalipapp import start_ipython

    class FrontEnd(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            self.published = getattr(self, "published", 0) + 1

        def clear_output(self, wait: bool = False) -> None:
            pass

    ip = start_ipython()
    ip.display_pub = FrontEnd(shell=ip)
    ip.display_formatter.formatters["text/html"].enabled = True
    if "MigrateMagics" not in ip.magics_manager.registry:
        ip.run_line_magic("load_ext", "nbmigrate")
    _SHELL = ip
    return ip


def _magic(ip: Any, line: str) -> Any:
    """Run ``%migrate line`` and render its result as a notebook would (text and HTML)."""
    result = ip.run_line_magic("migrate", line)
    if result is not None:
        ip.display_formatter.format(result, include={"text/plain", "text/html"})
    return result


def alembic_cli() -> list[str]:
    """The ``alembic`` console script of this Python environment (what its user types).

    Not whatever ``alembic`` comes first on ``PATH``: a version manager's shim there (pyenv's is
    a shell script that runs ``pyenv exec``) would add its own start-up to every CLI call and
    flatter nbmigrate. Falls back to ``python -m alembic``.
    """
    script = Path(sys.executable).with_name("alembic")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "alembic"]


def _cli(root: Path, verb: str) -> None:
    subprocess.run(
        [*alembic_cli(), "-c", str(root / "alembic.ini"), verb],
        cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _cold(root: Path, verb: str) -> None:
    """An in-process ``alembic.command`` call as a script would make it: new Config, new ScriptDirectory.

    The config names the command as the CLI's does (``cmd_opts.cmd``): nbmigrate's ``env.py``
    reads it to skip its migration lock for read-only commands, as it does under the CLI.
    """
    import argparse

    from alembic import command
    from alembic.config import Config

    fn = getattr(command, verb)
    opts = argparse.Namespace(cmd=(fn, [], []), x=None, raiseerr=False, quiet=False)
    with _cwd(root), _quiet_logging():
        fn(Config(str(root / "alembic.ini"), stdout=io.StringIO(), cmd_opts=opts))


@contextlib.contextmanager
def _quiet_logging() -> Iterator[io.StringIO]:
    """Keep Alembic's log lines off the terminal, without skipping them (the CLI writes them too).

    The project's ``env.py`` calls ``fileConfig(alembic.ini)``, which sends Alembic's INFO lines to
    ``sys.stderr``: that is redirected to a buffer, and the logging set-up restored afterwards.
    """
    import logging

    loggers = [logging.getLogger(), logging.getLogger("alembic"), logging.getLogger("sqlalchemy.engine")]
    saved = [(lg.level, lg.disabled, lg.propagate, list(lg.handlers)) for lg in loggers]
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        for lg, (level, disabled, propagate, handlers) in zip(loggers, saved):
            lg.setLevel(level)
            lg.disabled, lg.propagate, lg.handlers = disabled, propagate, handlers


# -- read commands ---------------------------------------------------------------------------


def _interleaved(contenders: dict[str, tuple[Callable[[], Any], int]]) -> dict[str, float]:
    """Median time of each contender, ``(fn, repeat)``; one run of each in turn, so a busy moment hits all."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(max(count for _, count in contenders.values())):
        for name, (fn, count) in contenders.items():
            if i < count:
                times[name].append(_timed(fn))
    return {name: statistics.median(values) for name, values in times.items()}


def _load_script_directory(root: Path) -> None:
    """What Alembic does first on every command: a new ScriptDirectory, every revision file imported."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with _cwd(root):
        ScriptDirectory.from_config(Config(str(root / "alembic.ini"), stdout=io.StringIO())).get_heads()


def measure_reads(root: Path, n: int, shape: str, backend: str, repeat: int, cli_repeat: int) -> list[dict[str, Any]]:
    """Warm ``%migrate heads/history/current`` against the CLI and a cold ``alembic.command`` call.

    Also warm ``%migrate graph`` (the widget, its SVG laid out) against Alembic's loading of the
    same ScriptDirectory. Each answer is checked against Alembic's before timing.
    """
    ip = _shell()
    rows = []
    cold_repeat = max(1, min(repeat, 5 if n < 3000 else 3))  # a cold current of 3,000 takes 2 s
    with _cwd(root), _project(ip):
        _magic(ip, "heads")  # the kernel's first command reads the files; then it is warm
        (project,) = ip.magics_manager.registry["MigrateMagics"]._projects.values()
        for verb in READS:
            _check_read(root, verb, _magic(ip, verb))
            loads = project._scripts.loads
            t = _interleaved({
                "warm": (lambda verb=verb: _magic(ip, verb), 2 * repeat),
                "warm_magic_only": (lambda verb=verb: ip.run_line_magic("migrate", verb), 2 * repeat),
                "cold": (lambda verb=verb: _cold(root, verb), cold_repeat),
                "cli": (lambda verb=verb: _cli(root, verb), cli_repeat),
            })
            rows.append({
                "kind": "read", "command": verb, "revisions": n, "shape": shape, "backend": backend,
                "warm_s": t["warm"], "warm_magic_only_s": t["warm_magic_only"], "render_s": t["warm"] - t["warm_magic_only"],
                "cold_command_s": t["cold"], "cli_s": t["cli"],
                "cli_vs_warm": t["cli"] / t["warm"], "cold_vs_warm": t["cold"] / t["warm"],
                # Warm means warm: the revision map was not rebuilt while the warm runs were timed.
                "reloads": project._scripts.loads - loads,
            })
        widget = _magic(ip, "graph")
        _check_graph(root, widget)
        t = _interleaved({
            "warm": (lambda: _magic(ip, "graph"), max(1, min(repeat, 5))),
            "load": (lambda: _load_script_directory(root), cold_repeat),
        })
        rows.append({
            "kind": "graph", "command": "graph", "revisions": n, "shape": shape, "backend": backend,
            "warm_s": t["warm"], "load_s": t["load"], "warm_vs_load": t["warm"] / t["load"],
            "svg_bytes": len(getattr(widget, "svg", "") or ""),
        })
    return rows


def _check_read(root: Path, verb: str, result: Any) -> None:
    """The warm answer is Alembic's: the same heads, history (ids, in order) or current revisions."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with _cwd(root):
        script = ScriptDirectory.from_config(Config(str(root / "alembic.ini"), stdout=io.StringIO()))
        if verb == "history":
            expected = [s.revision for s in script.walk_revisions()]
            got = [r.revision for r in result.revisions]
        elif verb == "heads":
            expected = sorted(script.get_heads())
            got = sorted(r.revision for r in result.revisions)
        else:
            expected = sorted(script.get_heads())  # the reads run on a database upgraded to its heads
            got = sorted(result.heads)
    if got != expected:
        raise RuntimeError(f"%migrate {verb} answered differently from Alembic in {root}: {got[:5]}... vs {expected[:5]}...")


def _check_graph(root: Path, widget: Any) -> None:
    """The widget's SVG was laid out (the timed run is not a no-op)."""
    svg = getattr(widget, "svg", "") or ""
    if "<svg" not in svg:
        raise RuntimeError(f"%migrate graph drew no SVG in {root}")


@contextlib.contextmanager
def _project(ip: Any) -> Iterator[None]:
    """A kernel that starts on this project (and forgets it afterwards)."""
    magics = ip.magics_manager.registry["MigrateMagics"]
    magics._projects.clear()
    try:
        yield
    finally:
        for project in magics._projects.values():
            project._dispose_engine()
        magics._projects.clear()


# -- upgrade / downgrade ---------------------------------------------------------------------


def offline_script(root: Path, rev_range: str) -> list[str]:
    """The statements Alembic's ``--sql`` mode writes for ``rev_range`` (DDL and version-table rows)."""
    from alembic import command
    from alembic.config import Config

    buffer = io.StringIO()
    upgrade = not rev_range.endswith(":base")
    with _cwd(root), _quiet_logging():
        config = Config(str(root / "alembic.ini"), stdout=io.StringIO(), output_buffer=buffer)
        if upgrade:
            command.upgrade(config, rev_range, sql=True)
        else:
            command.downgrade(config, rev_range, sql=True)
    statements = []
    for chunk in buffer.getvalue().split(";\n"):
        body = "\n".join(line for line in chunk.strip().splitlines() if line.strip() and not line.startswith("--"))
        if body and body.strip().upper() not in ("BEGIN", "COMMIT", "BEGIN TRANSACTION"):
            statements.append(body.strip())
    return statements


def _floor_statements(url: str, statements: list[str]) -> None:
    """The statements one by one through the DB-API cursor, in one transaction.

    One transaction is what Alembic uses with nbmigrate's ``env.py`` (transactional DDL, no
    ``transaction_per_migration``), on SQLite and PostgreSQL alike.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            if engine.dialect.name == "sqlite":
                driver.isolation_level = None
            else:
                driver.autocommit = True
            cursor = driver.cursor()
            cursor.execute("BEGIN")
            for statement in statements:
                cursor.execute(statement)
            cursor.execute("COMMIT")
        finally:
            raw.close()
    finally:
        engine.dispose()


def _floor_script(url: str, statements: list[str]) -> None:
    """All statements as one script in one transaction: what the database itself needs."""
    import sqlalchemy as sa

    text = "BEGIN;\n" + "".join(s + ";\n" for s in statements) + "COMMIT;\n"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            if engine.dialect.name == "sqlite":
                driver.isolation_level = None
                driver.executescript(text)
            else:
                driver.autocommit = True
                driver.execute(text)
        finally:
            raw.close()
    finally:
        engine.dispose()


def db_state(url: str) -> tuple[Any, ...]:
    """What a migration leaves behind, cheaply: every table, column, index and key, and ``alembic_version``.

    nbmigrate's own bookkeeping table (``nbmigrate_checksums``, see :mod:`nbmigrate.checksums`)
    is left out: it is the one thing nbmigrate adds to the database by design.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                schema = conn.exec_driver_sql(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE tbl_name != 'nbmigrate_checksums' ORDER BY type, name"
                ).all()
            else:
                schema = conn.exec_driver_sql(
                    "SELECT table_name, column_name, data_type, is_nullable, column_default, ordinal_position "
                    "FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name != 'nbmigrate_checksums' ORDER BY table_name, ordinal_position"
                ).all() + conn.exec_driver_sql(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename != 'nbmigrate_checksums' ORDER BY tablename, indexname"
                ).all() + conn.exec_driver_sql(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE connamespace = current_schema()::regnamespace "
                    "AND conrelid::regclass::text != 'nbmigrate_checksums' ORDER BY 1, 2"
                ).all()
            tables = sa.inspect(conn).get_table_names()
            versions = (
                sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))
                if "alembic_version" in tables else None
            )
        # Whitespace aside (Alembic's --sql script indents with spaces, its online DDL with tabs).
        rows = tuple(tuple(" ".join(v.split()) if isinstance(v, str) else v for v in r) for r in schema)
        return rows, versions
    finally:
        engine.dispose()


_RUNNING = re.compile(r"Running (upgrade|downgrade) (.*?) -> (.*?)(?:, |$)", re.MULTILINE)


def _alembic_steps(log: str) -> list[str]:
    """The revisions Alembic ran, in order, from its ``Running upgrade a -> b`` log lines."""
    return [
        (to if kind == "upgrade" else frm).strip()
        for kind, frm, to in _RUNNING.findall(log)
    ]


def _offline_steps(root: Path, rev_range: str) -> list[str]:
    """The revisions, in order, of Alembic's ``--sql`` script for ``rev_range`` (what the floor runs)."""
    from alembic import command
    from alembic.config import Config

    buffer = io.StringIO()
    with _cwd(root), _quiet_logging():
        config = Config(str(root / "alembic.ini"), stdout=io.StringIO(), output_buffer=buffer)
        (command.downgrade if rev_range.endswith(":base") else command.upgrade)(config, rev_range, sql=True)
    return [
        (to if kind == "upgrade" else frm).strip()
        for kind, frm, to in re.findall(r"^-- Running (upgrade|downgrade) (.*?) -> (.*?)$", buffer.getvalue(), re.MULTILINE)
    ]


def measure_migrations(root: Path, url: str, n: int, shape: str, backend: str, repeat: int) -> list[dict[str, Any]]:
    """``upgrade heads`` and ``downgrade base``: Alembic, %migrate with and without schema, the floor.

    Each contender runs upgrade then downgrade on an emptied database; their order rotates from
    one repeat to the next, so that a machine busy for a while does not favour one of them.
    After every run (untimed) the database is compared with what Alembic's own command left
    (schema and ``alembic_version``), and nbmigrate's steps with the revisions Alembic ran, in
    order; ``checks`` in each row says what differed (empty: nothing).
    """
    ip = _shell()
    up_sql = offline_script(root, "base:heads")
    down_sql = offline_script(root, "heads:base")
    floor_steps = {"upgrade": _offline_steps(root, "base:heads"), "downgrade": _offline_steps(root, "heads:base")}
    ran: dict[str, list[str]] = {}

    def alembic_run(verb: str, target: str) -> None:
        ran[verb] = _alembic_steps(_cold_migrate(root, verb, target))

    def magic_run(line: str) -> None:
        result = _checked(_magic(ip, line))
        ran[line.split()[0]] = [step.revision for step in result.steps]

    contenders: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "alembic": (lambda: alembic_run("upgrade", "heads"), lambda: alembic_run("downgrade", "base")),
        "nbmigrate": (lambda: magic_run("upgrade heads"), lambda: magic_run("downgrade base")),
        "nbmigrate_no_schema": (
            lambda: magic_run("upgrade heads --no-schema"),
            lambda: magic_run("downgrade base --no-schema"),
        ),
        "floor_stmt": (lambda: _floor_statements(url, up_sql), lambda: _floor_statements(url, down_sql)),
        "floor_script": (lambda: _floor_script(url, up_sql), lambda: _floor_script(url, down_sql)),
    }
    names = list(contenders)
    times: dict[str, dict[str, list[float]]] = {"upgrade": {}, "downgrade": {}}
    # What each contender left and ran, per direction: every repeat's, to compare with Alembic's.
    states: dict[str, dict[str, list[Any]]] = {"upgrade": {}, "downgrade": {}}
    steps: dict[str, dict[str, list[list[str]]]] = {"upgrade": {}, "downgrade": {}}
    with _cwd(root), _project(ip):
        _magic(ip, "heads")  # warm, as in a kernel that has been used
        for i in range(repeat):
            for name in names[i % len(names):] + names[: i % len(names)]:
                up, down = contenders[name]
                reset(url)
                ran.clear()
                times["upgrade"].setdefault(name, []).append(_timed(up))
                states["upgrade"].setdefault(name, []).append(db_state(url))
                times["downgrade"].setdefault(name, []).append(_timed(down))
                states["downgrade"].setdefault(name, []).append(db_state(url))
                for direction in ("upgrade", "downgrade"):
                    steps[direction].setdefault(name, []).append(ran.get(direction, floor_steps[direction]))
        reset(url)
    rows = []
    for direction, by_name in times.items():
        t = {name: statistics.median(values) for name, values in by_name.items()}
        reference = {"end state": states[direction]["alembic"][0], "steps (order)": steps[direction]["alembic"][0]}
        checks = [
            f"{name}: {what} differs from alembic.command's"
            for name in names
            for what, seen in (("end state", states[direction][name]), ("steps (order)", steps[direction][name]))
            if any(one != reference[what] for one in seen)
        ]
        expected_steps = len(history(n, shape))
        if len(reference["steps (order)"]) != expected_steps:
            checks.append(f"alembic.command ran {len(reference['steps (order)'])} steps for {expected_steps} revisions")
        left = {row[0] if backend != "sqlite" else row[2] for row in reference["end state"][0]}
        if direction == "downgrade" and left - {"alembic_version"}:
            checks.append(f"downgrade base left tables behind: {sorted(left)[:5]}")
        if direction == "upgrade" and len(left - {"alembic_version"}) != n - _merges(n, shape):
            checks.append(f"upgrade heads made {len(left) - 1} tables for {n - _merges(n, shape)} table-creating revisions")
        rows.append({
            "kind": "migrate", "command": f"{direction} {'heads' if direction == 'upgrade' else 'base'}",
            "revisions": n, "shape": shape, "backend": backend, "repeat": repeat,
            "statements": len(up_sql if direction == "upgrade" else down_sql),
            "steps": len(reference["steps (order)"]),
            "checks": checks,
            **{f"{name}_s": value for name, value in t.items()},
            "nbmigrate_vs_alembic": t["nbmigrate"] / t["alembic"],
            "no_schema_vs_alembic": t["nbmigrate_no_schema"] / t["alembic"],
            "schema_overhead": t["nbmigrate"] / t["nbmigrate_no_schema"] - 1.0,
            "alembic_vs_floor_stmt": t["alembic"] / t["floor_stmt"],
            "nbmigrate_vs_floor_stmt": t["nbmigrate"] / t["floor_stmt"],
            "no_schema_vs_floor_stmt": t["nbmigrate_no_schema"] / t["floor_stmt"],
            "alembic_vs_floor_script": t["alembic"] / t["floor_script"],
            "no_schema_vs_floor_script": t["nbmigrate_no_schema"] / t["floor_script"],
        })
    return rows


def _merges(n: int, shape: str) -> int:
    """How many revisions of the history are merges (they create no table)."""
    return sum(isinstance(down, tuple) for _, down in history(n, shape))


def _checked(result: Any) -> Any:
    if not getattr(result, "reached", True) or len(getattr(result, "steps", ())) == 0:
        raise RuntimeError(f"benchmark run did not migrate: {result}")
    return result


def _cold_migrate(root: Path, verb: str, target: str) -> str:
    """``alembic.command.upgrade/downgrade`` as a script calls it; returns Alembic's log."""
    from alembic import command
    from alembic.config import Config

    with _cwd(root), _quiet_logging() as log:
        getattr(command, verb)(Config(str(root / "alembic.ini"), stdout=io.StringIO()), target)
    return log.getvalue()


# -- start-up --------------------------------------------------------------------------------

_LOAD_EXT = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
start = time.perf_counter()
ip.run_line_magic("load_ext", "nbmigrate")
elapsed = time.perf_counter() - start
new = set(sys.modules) - before
print(" ".join(sorted({m.split(".")[0] for m in new} | {m for m in new if m.startswith("nbmigrate")})))
print(elapsed)
"""

_IMPORT = """
import time
start = time.perf_counter()
import alembic, sqlalchemy
print(time.perf_counter() - start)
"""

# The first command of a fresh kernel, after the extension loaded, against the first
# ``alembic.command`` call of a fresh process after ``import alembic, sqlalchemy``: both import what
# %load_ext deferred and read the project's revision files once.
_FIRST_MAGIC = """
import os, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
os.chdir(sys.argv[1])
start = time.perf_counter()
ip.run_line_magic("load_ext", "nbmigrate")
ip.run_line_magic("migrate", "heads")
print(time.perf_counter() - start)
"""

_FIRST_COMMAND = """
import io, os, sys, time
os.chdir(sys.argv[1])
start = time.perf_counter()
import alembic, sqlalchemy
from alembic import command
from alembic.config import Config
command.heads(Config("alembic.ini", stdout=io.StringIO()))
print(time.perf_counter() - start)
"""


def _child_env() -> dict[str, str]:
    """The environment of a measured child process: this checkout's nbmigrate first on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH", "")) if p)
    return env


def measure_startup(repeat: int = 5, project: Path | None = None) -> dict[str, Any]:
    """``%load_ext nbmigrate`` in a fresh IPython against ``import alembic, sqlalchemy`` in a fresh Python.

    Both are timed inside their own process (the interpreter's and IPython's own start-up are the
    same for either and not counted); the median of ``repeat`` processes each. With ``project``
    (an Alembic project folder), also the first ``%migrate heads`` after ``%load_ext`` against a
    fresh process's first ``alembic.command.heads``: what the deferred imports cost later.
    """
    env = _child_env()

    def child(code: str, *args: str) -> tuple[float, list[str]]:
        out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=HERE, env=env)
        lines = out.stdout.strip().splitlines()
        return float(lines[-1]), (lines[-2].split() if len(lines) > 1 else [])

    contenders = {"load_ext": (_LOAD_EXT,), "import": (_IMPORT,)}
    if project is not None:
        contenders |= {"first_magic": (_FIRST_MAGIC, str(project)), "first_command": (_FIRST_COMMAND, str(project))}
    for args in contenders.values():  # warm the file system cache and __pycache__
        child(*args)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):  # alternate, so that a busy moment hits both
        for name, args in contenders.items():
            times[name].append(child(*args)[0])
    modules = child(_LOAD_EXT)[1]
    t = {name: statistics.median(values) for name, values in times.items()}
    out = {
        "kind": "startup", "load_ext_s": t["load_ext"], "import_alembic_sqlalchemy_s": t["import"],
        "load_ext_vs_import": t["load_ext"] / t["import"], "modules": modules,
        "deferred": sorted(m for m in ("alembic", "sqlalchemy", "graphviz", "ipywidgets", "anywidget", "psycopg", "pymysql") if m not in modules),
    }
    if project is not None:
        out |= {
            "first_magic_s": t["first_magic"], "first_command_s": t["first_command"],
            "first_magic_vs_command": t["first_magic"] / t["first_command"],
        }
    return out


# -- everything ------------------------------------------------------------------------------


def run(
    reads: Iterable[tuple[int, str]] = (),
    migrations: Iterable[tuple[int, str, str, int]] = (),
    repeat: int = 5,
    cli_repeat: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure the read commands for each ``(revisions, shape)`` in ``reads`` (on SQLite) and
    upgrade/downgrade for each ``(revisions, shape, backend, repeat)`` in ``migrations``; one dict
    per command measured. Each combination gets a project and an empty database of its own.
    """
    say = progress or (lambda text: None)
    reads = list(reads)
    migrations = list(migrations)
    plan: dict[tuple[int, str, str], dict[str, Any]] = {}
    for n, shape in reads:
        plan.setdefault((n, shape, "sqlite"), {})["reads"] = True
    for n, shape, backend, times in migrations:
        plan.setdefault((n, shape, backend), {})["migrate"] = times
    rows: list[dict[str, Any]] = []
    for (n, shape, backend), what in sorted(plan.items(), key=lambda item: (item[0][0], SHAPES.index(item[0][1]), item[0][2])):
        with tempfile.TemporaryDirectory(prefix="nbm-bench-") as tmp:
            root = Path(tmp)
            with database(backend, root) as url:
                make_project(root, n, shape, url)
                _cold(root, "heads")  # compiles the revision files to __pycache__ once
                if what.get("migrate"):
                    say(f"migrate: {n} revisions, {shape}, {backend} (x{what['migrate']})")
                    rows += measure_migrations(root, url, n, shape, backend, what["migrate"])
                if what.get("reads"):
                    say(f"reads: {n} revisions, {shape}")
                    _cold_migrate(root, "upgrade", "heads")  # reads see a database at its heads
                    rows += measure_reads(root, n, shape, backend, repeat, cli_repeat)
    return rows


@contextlib.contextmanager
def startup_project(n: int = 100) -> Iterator[Path]:
    """A small project (SQLite, at its heads) for the first-command start-up measurement."""
    with tempfile.TemporaryDirectory(prefix="nbm-bench-") as tmp:
        root = Path(tmp)
        make_project(root, n, "linear", f"sqlite:///{root / 'bench.db'}")
        _cold_migrate(root, "upgrade", "heads")
        yield root
