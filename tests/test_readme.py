"""The README's code blocks run exactly as written (issue 16).

Its ``python`` blocks with magics are pasted, in order, into one IPython shell working in a fresh
folder, as a notebook user would paste them: a ``%%`` block is one cell, any other block one cell
per line, trailing comments and all. Where a block names what a notebook would already hold (the
``engine`` of ``%migrate connect engine``, the models of ``--metadata Base.metadata``), the test
defines it first, as the README implies: an Engine on the project's own SQLite file, and models
that match the table the README's revision creates. The Python API block is run as written, with
nothing supplied, in a fresh folder of its own. ``bash`` blocks are not run; the programs and the
repository files they name must exist.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_MAGIC = re.compile(r"^\s*(\w+\s*=\s*)?%", re.MULTILINE)


@dataclass
class Block:
    language: str
    source: str
    line: int  # of the opening fence, for messages

    @property
    def has_magics(self) -> bool:
        return bool(_MAGIC.search(self.source))


def blocks(language: str) -> list[Block]:
    text = README.read_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(text)
        if m.group(1) == language
    ]


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    magics = [b for b in blocks("python") if b.has_magics]
    api = [b for b in blocks("python") if not b.has_magics]
    assert any(b.source.startswith("%load_ext nbmigrate") for b in magics)
    assert any(b.source.startswith("%%revision") for b in magics)
    assert len(api) == 1 and "import nbmigrate" in api[0].source
    assert blocks("bash")


# -- the notebook blocks ------------------------------------------------------------------------


@pytest.fixture
def notebook(shell: Any, here: Path) -> Iterator[Any]:
    """The shared shell in a fresh folder, holding what the README's lines take as given."""
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class User(Base):  # the table the README's %%revision cell creates
        __tablename__ = "user"
        id = sa.Column(sa.Integer, primary_key=True)
        first_name = sa.Column(sa.String(50))
        last_name = sa.Column(sa.String(50), nullable=False)
        address = sa.Column(sa.String(200))

    engine = sa.create_engine(f"sqlite:///{here / 'migrations.db'}")  # the database `%migrate init` makes
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    given = {"engine": engine, "Base": Base}
    shell.user_ns.update(given)
    try:
        yield shell
    finally:
        for name in (*given, "r"):
            shell.user_ns.pop(name, None)
        magics.forget_projects()
        for trait in ("config_file", "graph_engine", "show_schema", "lock_timeout", "change_detection"):
            magics.set_trait(trait, magics.traits()[trait].default_value)
        engine.dispose()


def cells(block: Block) -> list[str]:
    """What a user pastes: a cell magic's block as one cell, other blocks line by line."""
    if block.source.startswith("%%"):
        return [block.source]
    return [line for line in block.source.splitlines() if line.strip()]


def run_as_pasted(shell: Any, cell: str, where: str) -> None:
    result = shell.run_cell(cell, store_history=True)
    error = result.error_before_exec or result.error_in_exec
    assert error is None, f"{where}: {cell!r} raised {type(error).__name__}: {error}"
    value = result.result
    if value is not None:  # the result renders in both formats
        str(value)
        if hasattr(value, "_repr_html_"):
            value._repr_html_()


def test_notebook_blocks_run_as_pasted(notebook: Any, here: Path) -> None:
    ran = []
    for block in (b for b in blocks("python") if b.has_magics):
        for cell in cells(block):
            run_as_pasted(notebook, cell, f"README.md line {block.line}")
            ran.append(cell)
    # It did what the README says it does.
    assert (here / "alembic.ini").is_file() and (here / "migrations" / "env.py").is_file()
    assert [p.name for p in (here / "migrations" / "versions").glob("0001_*.py")] == ["0001_create_user_table.py"]
    assert notebook.user_ns["r"].heads_after == ("0001",)
    assert any("connect engine" in cell for cell in ran) and any("check" in cell for cell in ran)


# -- the Python API block -----------------------------------------------------------------------


def test_python_api_block_runs_as_written(here: Path) -> None:
    (block,) = [b for b in blocks("python") if not b.has_magics]
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        exec(compile(block.source, f"README.md (block at line {block.line})", "exec"), namespace)
    finally:
        project = namespace.get("project")
        if project is not None:
            project.disconnect()
    assert (here / "alembic.ini").is_file()


# -- the bash blocks ----------------------------------------------------------------------------


def commands_of(block: Block) -> list[list[str]]:
    """Each command of a bash block as its words, comments left out."""
    found = []
    for line in block.source.splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", "||", ";"):
                if command:
                    found.append(command)
                command = []
            else:
                command.append(word)
    return found


def program_exists(name: str) -> bool:
    return shutil.which(name) is not None or (Path(sys.executable).parent / name).exists()


def _looks_like_a_path(word: str) -> bool:
    return not word.startswith("-") and ("/" in word or word.endswith((".py", ".ipynb", ".txt"))) and "[" not in word


def test_bash_blocks_name_programs_and_files_that_exist() -> None:
    named = [command for block in blocks("bash") for command in commands_of(block)]
    assert named
    for program, *arguments in named:
        assert program_exists(program), f"README names {program!r}, which is not installed here"
        if program == "jupyter":  # `jupyter nbconvert` runs the program jupyter-nbconvert
            assert program_exists(f"jupyter-{arguments[0]}"), f"jupyter {arguments[0]}"
        for word in arguments:
            if _looks_like_a_path(word):
                assert (ROOT / word).exists(), f"README names {word}, which is not in the repository"


def test_the_readme_says_where_revision_goes() -> None:
    text = README.read_text()
    assert "`%%revision` must be the first line of its cell" in text

