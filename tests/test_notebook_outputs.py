"""What a re-executed notebook saves: no empty outputs, and nbval still matches a re-run of it.

The notebook is built here, in a temporary folder, and executed by the function
``notebooks/execute.py`` uses for the tutorials; nbval then runs it again in a fresh kernel,
with the tutorials' sanitize file, and compares, as ``pytest`` does for the tutorials.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = ROOT / "notebooks" / "sanitize.cfg"

CELLS = [
    # the tutorials' way: a scratch folder, so a re-run starts from nothing
    "import os\nimport tempfile\n\nos.chdir(tempfile.mkdtemp(prefix='nbmigrate-outputs-'))",
    "%load_ext nbmigrate",
    "%migrate init",
    '%%revision -m "create item" --rev-id 0001\n'
    "def upgrade():\n"
    '    op.create_table("item", sa.Column("id", sa.Integer, primary_key=True))\n\n'
    "def downgrade():\n"
    '    op.drop_table("item")',
    '%%revision -m "add name" --rev-id 0002\n'
    "def upgrade():\n"
    '    op.add_column("item", sa.Column("name", sa.String(40)))\n\n'
    "def downgrade():\n"
    '    op.drop_column("item", "name")',
    "%migrate upgrade head",  # two steps: the progress line is shown while it runs
]


def _execute_py() -> ModuleType:
    """``notebooks/execute.py`` as a module (the folder is no package)."""
    spec = importlib.util.spec_from_file_location("nbmigrate_notebooks_execute", ROOT / "notebooks" / "execute.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_empty(output: nbformat.NotebookNode) -> bool:
    """A display that shows nothing in any format."""
    return output.output_type == "display_data" and not any(
        value.strip() if isinstance(value, str) else value for value in output.get("data", {}).values()
    )


def test_executed_notebook_keeps_no_empty_output_and_nbval_matches_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernels' scratch folders land in the test's
    path = tmp_path / "outputs.ipynb"
    notebook = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)

    _execute_py().execute(path)

    cells = nbformat.read(path, as_version=4).cells
    empty = [(i, output.data) for i, cell in enumerate(cells) for output in cell.outputs if _is_empty(output)]
    assert empty == []
    # The progress display ends on the last step it showed, as the run left it, above the result.
    progress, result = cells[-1].outputs
    assert progress.output_type == "display_data" and result.output_type == "execute_result"
    assert progress.data["text/plain"] == "step 2 of 2: upgrade 0001 → 0002: add name"
    assert '<progress value="2" max="2"></progress> step 2 of 2: ' in progress.data["text/html"]

    # nbval sees each display as it first came (it ignores updates): a re-run must still match.
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(path), "--nbval", "--nbval-sanitize-with", str(SANITIZE),
            "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:pytest_alembic",
            "--rootdir", str(tmp_path), "-c", os.devnull, "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(CELLS)} passed" in run.stdout
