"""Arbitrary ``%migrate`` lines and ``%%revision`` cells: a result or a ``UsageError``, nothing else.

Hypothesis feeds a real IPython shell free text and near-miss command lines built from the real
commands, options and revision names. Every example must end with a result or exactly
``UsageError`` (never another exception, never a hang), write no file outside the versions
folder, and leave the database (an SQLite file) byte for byte as it was, unless the line is one
that legitimately writes (``upgrade``, ``stamp``, ``revision``, ... without ``--sql``); those may
change the database and the versions folder only, and the project is restored after each.
``init`` and ``connect`` legitimately write anywhere (a new project, a new SQLite file) and
``--raiseerr`` legitimately raises the real error: such lines are only parsed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

import nbmigrate
from nbmigrate.errors import BadArguments
from nbmigrate.parser import command_names, parse

COMMANDS = command_names()
WRITERS = {"upgrade", "downgrade", "stamp", "revision", "merge", "ensure_version"}
PARSE_ONLY = {"init", "connect"}
OPTIONS = [
    "--sql", "--tag", "-r", "--rev-range", "--purge", "-m", "--rev-id", "--head", "--splice", "--branch-label",
    "--version-path", "--depends-on", "--autogenerate", "-c", "-n", "-x", "--verbose", "-v", "--preview",
    "--no-schema", "--help", "-h", "--engine", "--db-schema", "--resolve-dependencies", "-i",
    "--indicate-current", "--check-heads", "--package", "-t", "--template", "-q", "--quiet",
]
WORDS = [
    "head", "heads", "base", "0001", "0002", "0003", "+1", "-1", "+5", "head-1", "0001:0002", "base:head",
    ":head", "current", "000", "../x", "../../etc/passwd", "/etc/passwd", "..", "a@head", "0001@+1", "'q",
    '"', "sqlite:///x.db", "-", ":", "t", "alembic.ini", "migrations", "migrations/versions", "dot",
    "graphviz-pure", "x=1", "generic", "nbmigrate", "%", "$HOME", "~", "*", "\\", ";", "\x00",
]

# Reproducible by default (CI); NBMIGRATE_FUZZ_RANDOM=1 explores new examples each run.
DERANDOMIZE = not os.environ.get("NBMIGRATE_FUZZ_RANDOM")

UPGRADE_T = 'op.create_table("t", sa.Column("id", sa.Integer))'
DOWNGRADE_T = 'op.drop_table("t")'


# -- the shell and the project -----------------------------------------------------------------


class Fuzzed:
    """A project on an SQLite file, at revision 0001 of two, that each example may use and must leave alone."""

    def __init__(self, root: Path, shell: Any) -> None:
        self.root = root
        self.shell = shell
        self.magics = shell.magics_manager.registry["MigrateMagics"]
        project = nbmigrate.Project()
        project.init("migrations")
        for rev, up, down in (("0001", UPGRADE_T, DOWNGRADE_T), ("0002", 'op.add_column("t", sa.Column("c", sa.String(5)))', 'op.drop_column("t", "c")')):
            path = Path(project.revision(f"rev {rev}", rev_id=rev).path)
            source = path.read_text()
            source = source.replace('"""Upgrade schema."""\n    pass', f'"""Upgrade schema."""\n    {up}')
            source = source.replace('"""Downgrade schema."""\n    pass', f'"""Downgrade schema."""\n    {down}')
            path.write_text(source)
        project.upgrade("0001")
        project.close()
        self.versions = (root / "migrations" / "versions").resolve()
        self.database = (root / "migrations.db").resolve()
        self.saved = self.files()

    def files(self) -> dict[Path, bytes]:
        return {
            p.resolve(): p.read_bytes()
            for p in self.root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith("-journal")
        }

    def changed(self) -> set[Path]:
        now = self.files()
        return {p for p in set(now) | set(self.saved) if now.get(p) != self.saved.get(p)}

    def restore(self) -> None:
        """Back to the saved files and database, and a fresh project in the magics."""
        self.magics.forget_projects()
        for path in set(self.files()) - set(self.saved):
            path.unlink()
        for path, data in self.saved.items():
            if not path.exists() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        for folder in sorted((p for p in self.root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if folder.name != "__pycache__" and not any(folder.iterdir()) and folder != self.versions:
                folder.rmdir()


@pytest.fixture(scope="module")
def fuzzed(shell: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    root = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("ALEMBIC_CONFIG", raising=False)
        shell.magics_manager.registry["MigrateMagics"].forget_projects()
        state = Fuzzed(root, shell)
        yield state
        state.restore()


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (not hang) when the block takes longer than ``seconds``."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def note_outcome(kind: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (how many examples got past the parser)."""
    if currently_in_test_context():
        event(kind)


def outcome(run: Any) -> Any:
    """Run a magic; a result or ``UsageError`` (exactly that type) is fine, anything else fails."""
    try:
        with deadline(30):
            value = run()
    except UsageError as exc:
        assert type(exc) is UsageError
        assert str(exc).strip(), "an empty message"
        note_outcome("UsageError")
        return exc
    note_outcome(type(value).__name__)
    assert value is None or hasattr(value, "_repr_html_") or hasattr(value, "_repr_mimebundle_"), repr(value)
    if value is not None:
        str(value)  # renders without raising
        if hasattr(value, "_repr_html_"):
            value._repr_html_()
    return value


@contextlib.contextmanager
def checking_writes(fuzzed: Fuzzed, writes: bool) -> Iterator[None]:
    """After the block: nothing changed (or, for a writing line, only the database and the
    versions folder); then the project is restored for the next example, whatever happened."""
    try:
        yield
        changed = fuzzed.changed()
        if not writes:
            assert changed == set(), f"a read-only line changed {sorted(map(str, changed))}"
        for path in changed:
            assert path == fuzzed.database or fuzzed.versions in path.parents, f"wrote outside the versions folder: {path}"
    finally:
        if writes or fuzzed.changed() or fuzzed.magics.projects:
            fuzzed.restore()


# -- %migrate ------------------------------------------------------------------------------------

free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
token = st.one_of(
    st.sampled_from(COMMANDS), st.sampled_from(OPTIONS), st.sampled_from(WORDS),
    st.text(alphabet=string.printable, min_size=1, max_size=8),
)
near_miss = st.tuples(st.sampled_from(COMMANDS), st.lists(token, max_size=5)).map(lambda t: " ".join([t[0], *t[1]]))
options_first = st.lists(token, min_size=1, max_size=6).map(" ".join)
# Lines that parse, so that the commands run: real verbs with revision names and odd values.
TEMPLATES = [
    "upgrade {r}", "downgrade {r}", "stamp {r}", "stamp {r} --purge", "upgrade {r} --sql", "downgrade {r}:{r} --sql",
    "upgrade {r} --preview", "upgrade {r} --tag {w}", "upgrade {r} --no-schema", "history -r {r}:{r}", "history -v",
    "show {r}", "edit {r}", "heads", "current -v", "branches", "graph -r {r}:{r}", "schema {w}", "revision -m {w}",
    "revision -m {w} --rev-id {w}", "revision -m {w} --head {r}", "revision -m {w} --version-path {w}",
    "revision -m {w} --depends-on {r}", "revision -m {w} --branch-label {w}", "revision -m {w} --splice --head {r}",
    "merge {r} {r} -m {w}", "ensure_version", "check", "-x {w} upgrade {r}", "-n {w} current",
]
odd = st.text(alphabet=string.printable, max_size=10)
revision_word = st.one_of(st.sampled_from(WORDS[:22]), odd)
plausible = st.builds(
    lambda template, revs, words: template.format(
        r=shlex.quote(revs[0]), w=shlex.quote(words[0])
    ).replace("{r}", shlex.quote(revs[-1])),
    st.sampled_from(TEMPLATES),
    st.lists(revision_word, min_size=1, max_size=2),
    st.lists(st.one_of(st.sampled_from(WORDS), odd), min_size=1, max_size=1),
)


def classify(line: str) -> tuple[bool, bool]:
    """(run it?, may it write?) for a ``%migrate`` line."""
    try:
        invocation = parse(line)
    except BadArguments:
        return True, False
    if invocation.raiseerr or invocation.command in PARSE_ONLY:
        return False, False
    writes = invocation.command in WRITERS and not invocation.arguments.get("sql")
    return True, writes


def migrate_line_behaves(fuzzed: Fuzzed, line: str) -> None:
    run, writes = classify(line)
    assume(run)
    with checking_writes(fuzzed, writes):
        outcome(lambda: fuzzed.shell.run_line_magic("migrate", line))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE)
@given(line=free_text)
def test_migrate_free_text(fuzzed: Fuzzed, line: str) -> None:
    migrate_line_behaves(fuzzed, line)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE)
@given(line=st.one_of(near_miss, options_first))
def test_migrate_near_miss_lines(fuzzed: Fuzzed, line: str) -> None:
    migrate_line_behaves(fuzzed, line)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE)
@given(line=plausible)
def test_migrate_plausible_lines(fuzzed: Fuzzed, line: str) -> None:
    migrate_line_behaves(fuzzed, line)


# -- %%revision ----------------------------------------------------------------------------------

CELL_OPTIONS = [
    "-m", "--rev-id", "--head", "--splice", "--branch-label", "--version-path", "--depends-on",
    "--autogenerate", "--metadata", "--apply", "-c", "-n", "-x", "--sql", "--help",
]
CELL_WORDS = [*WORDS, "msg", '"a message"', "'it''s'", "0009", "Base.metadata", "target_metadata", "nope.x"]
odd = st.text(alphabet=string.printable, max_size=10)
revision_word = st.one_of(st.sampled_from(WORDS[:22]), odd)
cell_line = st.lists(
    st.one_of(st.sampled_from(CELL_OPTIONS), st.sampled_from(CELL_WORDS), st.text(alphabet=string.printable, max_size=8)),
    max_size=6,
).map(" ".join)
CELL_TEMPLATES = [
    "-m {w}", "-m {w} --apply", "-m {w} --rev-id {w}", "-m {w} --head {r}", "-m {w} --head {r} --splice",
    "-m {w} --branch-label {w}", "-m {w} --depends-on {r}", "-m {w} --version-path {w}", "-m {w} --apply --head {r}",
]
cell_plausible = st.builds(
    lambda template, r, w: template.format(r=shlex.quote(r), w=shlex.quote(w)),
    st.sampled_from(CELL_TEMPLATES), revision_word, st.one_of(st.sampled_from(CELL_WORDS), odd),
)
cell_code = st.one_of(
    st.text(max_size=60),
    st.sampled_from([
        UPGRADE_T,
        f"def upgrade():\n    {UPGRADE_T}\n\ndef downgrade():\n    {DOWNGRADE_T}\n",
        'op.add_column("t", sa.Column("d", sa.Integer))',
        'op.execute("SELECT 1")',
        "def upgrade(:\n",
        "def downgrade():\n    pass\n",
        "import os\nop.execute('SELECT 1')",
        "pass",
        "   ",
        "def upgrade():\n    raise RuntimeError('boom')\n",
        'op.execute("SELECT * FROM nowhere")',
        '"""\n',
    ]),
)


def cell_line_behaves(fuzzed: Fuzzed, line: str, cell: str) -> None:
    try:
        from nbmigrate.cell import parse_line

        options = parse_line(line)
        raiseerr = getattr(options, "raiseerr", False)
    except BadArguments:
        raiseerr = False
    assume(not raiseerr)
    with checking_writes(fuzzed, writes=True):
        outcome(lambda: fuzzed.shell.run_cell_magic("revision", line, cell))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=DERANDOMIZE)
@given(line=st.one_of(cell_line, cell_plausible), cell=cell_code)
def test_revision_cells(fuzzed: Fuzzed, line: str, cell: str) -> None:
    pytest.importorskip("nbmigrate.cell")
    cell_line_behaves(fuzzed, line, cell)


# -- examples that once broke, or would be easy to break ------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "", " ", "--help", "-h", "upgrade", "upgrade nosuch", "downgrade", "stamp", "upgrade head extra",
        "history -r", "history -r nonsense", "show", "show nosuch", "heads --resolve-dependencies",
        "revision --rev-id ../evil -m x", "revision --version-path /tmp -m x", "revision -m '../../x'",
        "merge", "merge nosuch other", "-n nosection current",
        "-c . current", "-c migrations current", "-c nosuch.ini current", "graph -r x:y", "schema nosuch",
        "upgrade 0001:0002", "downgrade -5", "upgrade +5", "stamp nosuch", "edit nosuch", "check",
        "'unclosed", 'up"grade', "upgrade head --tag", "current --verbose extra",
        "upgrade head -x", "-x a=b upgrade head --sql", "ensure_version --sql",
        # Once let an outside error through: a config that is no ini file, an unknown database
        # schema, names Alembic asserts on, a message that cannot stand in a docstring.
        "-c /etc/passwd current", "-c /etc/hostname history", "schema --db-schema nosuch",
        "revision -m x --depends-on base", "upgrade '' --sql", "downgrade @:base --sql", "show ''",
        "revision -m '\x00'", "revision -m 'a\"\"\"b'", "merge heads -m 'back\\slash'",
        # Once gave a traceback (issue 18.7): a NUL byte in a path, a from:to:more range offline,
        # a revision id no file name can hold, `--raiseerr` in a quoted value or a comment.
        "-c 'a\x00b' current", "stamp :: --sql", "stamp 0001:0002:0003 --sql", "revision -m x --rev-id " + "a" * 300,
        "revision -m ' --raiseerr ' --head nosuch", "upgrade nosuch  # --raiseerr would show the traceback",
        "history   # it's every revision", "revision -m 'fix #12' --head nosuch  # comment",
    ],
)
def test_known_lines(fuzzed: Fuzzed, line: str) -> None:
    run, writes = classify(line)
    assert run
    with checking_writes(fuzzed, writes):
        outcome(lambda: fuzzed.shell.run_line_magic("migrate", line))


@pytest.mark.parametrize(
    ("line", "cell"),
    [
        ('-m " --raiseerr " --head nosuch', UPGRADE_T),
        ("-m x --head nosuch  # --raiseerr", UPGRADE_T),
        ("-m x --rev-id " + "b" * 300, UPGRADE_T),
        ("-m x -c 'a\x00b'", UPGRADE_T),
    ],
)
def test_known_cells(fuzzed: Fuzzed, line: str, cell: str) -> None:
    with checking_writes(fuzzed, writes=True):
        outcome(lambda: fuzzed.shell.run_cell_magic("revision", line, cell))


# -- what those lines now say: one line each ------------------------------------------------------


def one_line(run: Any, *fragments: str) -> str:
    """``run`` must fail with exactly ``UsageError``: one line that holds ``fragments``."""
    error = outcome(run)
    assert isinstance(error, UsageError), f"no error, but {error!r}"
    message = str(error)
    assert "\n" not in message.strip(), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("-c 'a\x00b' current", ("NUL byte",)),
        ("stamp :: --sql", ("'::'", "one colon")),
        ("stamp 0001:0002:0003 --sql", ("'0001:0002:0003'", "one colon")),
        ("revision -m x --rev-id " + "a" * 300, ("too long", "Nothing was written")),
        ("revision -m x --rev-id 'ab\n'", ("cannot be a revision id",)),
        ("revision -m x --rev-id 'ab\n\n'", ("cannot be a revision id",)),
        ("revision -m ' --raiseerr ' --head nosuch", ("nosuch",)),
    ],
)
def test_mistakes_are_one_line(fuzzed: Fuzzed, line: str, fragments: tuple[str, ...]) -> None:
    with checking_writes(fuzzed, writes=False):
        one_line(lambda: fuzzed.shell.run_line_magic("migrate", line), *fragments)


def test_a_revision_id_ending_in_a_newline_is_refused_from_python_too(fuzzed: Fuzzed) -> None:
    project = nbmigrate.Project()
    try:
        with checking_writes(fuzzed, writes=False), pytest.raises(BadArguments, match="cannot be a revision id"):
            project.revision("x", rev_id="ab\n")
    finally:
        project.disconnect()


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ('-m " --raiseerr " --head nosuch', ("nosuch",)),
        ("-m x --rev-id " + "b" * 300, ("too long", "Nothing was written")),
        ("-m x --rev-id 'ab\n'", ("cannot be a revision id",)),
    ],
)
def test_cell_mistakes_are_one_line(fuzzed: Fuzzed, line: str, fragments: tuple[str, ...]) -> None:
    with checking_writes(fuzzed, writes=False):
        one_line(lambda: fuzzed.shell.run_cell_magic("revision", line, UPGRADE_T), *fragments)


@pytest.mark.parametrize(
    ("make", "line", "fragments"),
    [
        ("notes.txt", "init notes.txt", ("notes.txt is a file, not a folder", "Nothing was written")),
        (None, "init /dev/null", ("/dev/null is a file, not a folder", "Nothing was written")),
        (None, "init alembic.ini", ("alembic.ini", "config file", "Nothing was written")),
        (None, "-c conf.ini init conf.ini", ("conf.ini", "config file", "Nothing was written")),
        (None, "init 'mig\x00x'", ("NUL byte",)),
    ],
)
def test_init_needs_a_folder_of_its_own(shell: Any, here: Path, make: str | None, line: str, fragments: tuple[str, ...]) -> None:
    """``init`` onto a file, or onto the config file's own name, is refused before anything is written."""
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    if make is not None:
        (here / make).write_text("notes\n")
    before = sorted(p.name for p in here.iterdir())
    one_line(lambda: shell.run_line_magic("migrate", line), *fragments)
    assert sorted(p.name for p in here.iterdir()) == before
    assert nbmigrate.Project().init("migrations").directory == "migrations"  # the folder is still usable
    magics.forget_projects()


def test_init_refuses_a_nul_byte_from_python_too(here: Path) -> None:
    with pytest.raises(BadArguments, match="NUL byte"):
        nbmigrate.Project().init("mig\x00x")
    assert list(here.iterdir()) == []
