"""Benchmark: ``%migrate`` in a warm kernel against Alembic's own commands and the database's own work.

For synthetic Alembic projects of several sizes (nbmigrate's ``env.py``; every revision creates one
table and its downgrade drops it), linear and with a fork and merge every 50 revisions
(:func:`bench_graph.history`), times in the same run:

``read``
    ``%migrate heads`` / ``history`` / ``current`` through a real IPython shell
    (``run_line_magic`` plus the HTML rendering a notebook shows; warm: the project was used
    before), against the ``alembic`` command line (one process per call) and a cold in-process
    ``alembic.command`` call (a new ``Config``, so a new ``ScriptDirectory`` that imports every
    revision file again, as Alembic does on every command).
``migrate``
    ``upgrade head`` then ``downgrade base`` on an empty database: ``alembic.command``,
    ``%migrate`` with its before/after schema (the default) and with ``--no-schema``, and the
    floor: the very statements Alembic's ``--sql`` mode writes for the run, executed directly,
    one by one in the one transaction Alembic uses (``floor_stmt``) and as one script (``floor_script``, one
    ``executescript`` on SQLite, one multi-statement ``execute`` on PostgreSQL).
``load_ext``
    ``%load_ext nbmigrate`` in a fresh IPython process against ``import alembic, sqlalchemy``
    in a fresh Python process (:func:`measure_startup`).

:func:`run` returns one dict per measurement; ``benchmarks/run.py`` prints them side by side.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
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


def _cli(root: Path, verb: str) -> None:
    subprocess.run(
        [shutil.which("alembic") or "alembic", "-c", str(root / "alembic.ini"), verb],
        cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _cold(root: Path, verb: str) -> None:
    """An in-process ``alembic.command`` call as a script would make it: new Config, new ScriptDirectory."""

    from alembic import command
    from alembic.config import Config

    with _cwd(root), _quiet_logging():
        getattr(command, verb)(Config(str(root / "alembic.ini"), stdout=io.StringIO()))


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Keep Alembic's log lines off the terminal, without skipping them (the CLI writes them too).

    The project's ``env.py`` calls ``fileConfig(alembic.ini)``, which sends Alembic's INFO lines to
    ``sys.stderr``: that is redirected to a buffer, and the logging set-up restored afterwards.
    """
    import logging

    loggers = [logging.getLogger(), logging.getLogger("alembic"), logging.getLogger("sqlalchemy.engine")]
    saved = [(lg.level, lg.disabled, lg.propagate, list(lg.handlers)) for lg in loggers]
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, (level, disabled, propagate, handlers) in zip(loggers, saved):
            lg.setLevel(level)
            lg.disabled, lg.propagate, lg.handlers = disabled, propagate, handlers


# -- read commands ---------------------------------------------------------------------------


def measure_reads(root: Path, n: int, shape: str, backend: str, repeat: int, cli_repeat: int) -> list[dict[str, Any]]:
    """Warm ``%migrate heads/history/current`` against the CLI and a cold ``alembic.command`` call."""
    ip = _shell()
    rows = []
    with _cwd(root), _project(ip):
        _magic(ip, "heads")  # the kernel's first command reads the files; then it is warm
        for verb in READS:
            _magic(ip, verb)
            warm = _median(lambda: _magic(ip, verb), repeat)
            cold = _median(lambda: _cold(root, verb), max(1, min(repeat, 3)))
            cli = _median(lambda: _cli(root, verb), cli_repeat)
            rows.append({
                "kind": "read", "command": verb, "revisions": n, "shape": shape, "backend": backend,
                "warm_s": warm, "cold_command_s": cold, "cli_s": cli,
                "cli_vs_warm": cli / warm, "cold_vs_warm": cold / warm,
            })
    return rows


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


def measure_migrations(root: Path, url: str, n: int, shape: str, backend: str, repeat: int) -> list[dict[str, Any]]:
    """``upgrade head`` and ``downgrade base``: Alembic, %migrate with and without schema, the floor.

    Each contender runs upgrade then downgrade on an emptied database; their order rotates from
    one repeat to the next, so that a machine busy for a while does not favour one of them.
    """
    ip = _shell()
    up_sql = offline_script(root, "base:heads")
    down_sql = offline_script(root, "heads:base")
    contenders: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "alembic": (lambda: _cold_migrate(root, "upgrade", "heads"), lambda: _cold_migrate(root, "downgrade", "base")),
        "nbmigrate": (lambda: _checked(_magic(ip, "upgrade heads")), lambda: _checked(_magic(ip, "downgrade base"))),
        "nbmigrate_no_schema": (
            lambda: _checked(_magic(ip, "upgrade heads --no-schema")),
            lambda: _checked(_magic(ip, "downgrade base --no-schema")),
        ),
        "floor_stmt": (lambda: _floor_statements(url, up_sql), lambda: _floor_statements(url, down_sql)),
        "floor_script": (lambda: _floor_script(url, up_sql), lambda: _floor_script(url, down_sql)),
    }
    names = list(contenders)
    times: dict[str, dict[str, list[float]]] = {"upgrade": {}, "downgrade": {}}
    with _cwd(root), _project(ip):
        _magic(ip, "heads")  # warm, as in a kernel that has been used
        for i in range(repeat):
            for name in names[i % len(names):] + names[: i % len(names)]:
                up, down = contenders[name]
                reset(url)
                times["upgrade"].setdefault(name, []).append(_timed(up))
                times["downgrade"].setdefault(name, []).append(_timed(down))
        reset(url)
    rows = []
    for direction, by_name in times.items():
        t = {name: statistics.median(values) for name, values in by_name.items()}
        rows.append({
            "kind": "migrate", "command": f"{direction} {'heads' if direction == 'upgrade' else 'base'}",
            "revisions": n, "shape": shape, "backend": backend, "repeat": repeat,
            "statements": len(up_sql if direction == "upgrade" else down_sql),
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


def _checked(result: Any) -> Any:
    if not getattr(result, "reached", True) or len(getattr(result, "steps", ())) == 0:
        raise RuntimeError(f"benchmark run did not migrate: {result}")
    return result


def _cold_migrate(root: Path, verb: str, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    with _cwd(root), _quiet_logging():
        getattr(command, verb)(Config(str(root / "alembic.ini"), stdout=io.StringIO()), target)


# -- start-up --------------------------------------------------------------------------------

_LOAD_EXT = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
start = time.perf_counter()
ip.run_line_magic("load_ext", "nbmigrate")
elapsed = time.perf_counter() - start
new = sorted({m.split(".")[0] for m in set(sys.modules) - before} | {m for m in set(sys.modules) - before if m.startswith("nbmigrate")})
print(" ".join(new))
print(elapsed)
"""

_IMPORT = """
import time
start = time.perf_counter()
import alembic, sqlalchemy
print(time.perf_counter() - start)
"""


def measure_startup(repeat: int = 5) -> dict[str, Any]:
    """``%load_ext nbmigrate`` in a fresh IPython against ``import alembic, sqlalchemy`` in a fresh Python.

    Both are timed inside their own process (the interpreter's and IPython's own start-up are the
    same for either and not counted); the median of ``repeat`` processes each.
    """

    def child(code: str) -> tuple[float, list[str]]:
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=HERE)
        lines = out.stdout.strip().splitlines()
        return float(lines[-1]), (lines[-2].split() if len(lines) > 1 else [])

    child(_LOAD_EXT), child(_IMPORT)  # warm the file system cache and __pycache__
    load_ext, imports = [], []
    for _ in range(repeat):  # alternate, so that a busy moment hits both
        load_ext.append(child(_LOAD_EXT)[0])
        imports.append(child(_IMPORT)[0])
    modules = child(_LOAD_EXT)[1]
    a, b = statistics.median(load_ext), statistics.median(imports)
    return {
        "kind": "startup", "load_ext_s": a, "import_alembic_sqlalchemy_s": b, "load_ext_vs_import": a / b,
        "modules": modules,
    }


# -- everything ------------------------------------------------------------------------------


def run(
    sizes: Iterable[int] = (100, 1000, 3000),
    shapes: Sequence[str] = SHAPES,
    backends: Sequence[str] = ("sqlite",),
    repeat: int = 5,
    cli_repeat: int = 3,
    migrate_sizes: Iterable[int] | None = None,
    migrate_shapes: Sequence[str] | None = None,
    migrate_repeat: int | None = None,
    reads: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every size, shape and backend; one dict per command measured.

    Reads are measured on SQLite; upgrade/downgrade on each of ``backends``, for the sizes in
    ``migrate_sizes`` (default: all) and the shapes in ``migrate_shapes`` (default: all),
    ``migrate_repeat`` times (default: 3 up to 1,000 revisions, else once).
    """
    say = progress or (lambda text: None)
    migrate_sizes = set(sizes if migrate_sizes is None else migrate_sizes)
    migrate_shapes = tuple(shapes if migrate_shapes is None else migrate_shapes)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for shape in shapes:
            for backend in backends:
                migrate = n in migrate_sizes and shape in migrate_shapes
                if not migrate and not (reads and backend == "sqlite"):
                    continue
                with tempfile.TemporaryDirectory(prefix="nbm-bench-") as tmp:
                    root = Path(tmp)
                    with database(backend, root) as url:
                        make_project(root, n, shape, url)
                        _cold(root, "heads")  # compiles the revision files to __pycache__ once
                        if migrate:
                            say(f"migrate: {n} revisions, {shape}, {backend}")
                            times = migrate_repeat or (3 if n <= 1000 else 1)
                            rows += measure_migrations(root, url, n, shape, backend, times)
                        if reads and backend == "sqlite":
                            say(f"reads: {n} revisions, {shape}")
                            _cold_migrate(root, "upgrade", "heads")  # reads see a database at its heads
                            rows += measure_reads(root, n, shape, backend, repeat, cli_repeat)
    return rows
