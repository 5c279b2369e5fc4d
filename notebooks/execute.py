"""Re-execute the tutorial notebooks headless and save their outputs in place.

    python notebooks/execute.py                      # every notebook in this folder
    python notebooks/execute.py notebooks/01_*.ipynb # some of them

Run it after any change to nbmigrate that changes what it displays, then check the result with

    pytest --nbval notebooks/ --nbval-sanitize-with notebooks/sanitize.cfg

How the notebooks are executed, and why:

- Every output is cleared first, so nothing from an earlier run survives.
- Each notebook runs in a fresh ``python3`` kernel (the kernel nbval uses) started in this folder;
  the notebooks themselves work in a scratch folder from ``tempfile.mkdtemp()``, so the
  repository is left unchanged.
- Widget state is *not* stored in the notebook metadata. The revision graph is saved as a static
  HTML/SVG output of its own, which ``jupyter nbconvert --to html`` and notebook viewers show
  without a kernel, and which nbval compares. Stored state would add nothing a reader without a
  kernel can use (the live widget acts through the kernel); it would put the widget's whole
  JavaScript, CSS and SVG into every notebook, changing with every release of nbmigrate, and an
  HTML export would then also try to load the widget's JavaScript from a CDN.
- No execution timings are recorded in the cell metadata, so an unchanged output means an
  unchanged file.
- A display updated while its cell runs (the "step n of N" progress line) is saved as it was
  last, while nbval, which ignores updates, compares it as it came first; ``sanitize.cfg``'s
  ``[progress]`` rule makes the two one. No display may end empty: it would be saved as an
  output showing nothing (``tests/test_notebook_outputs.py`` checks both).
- A cell may fail only when it is tagged ``raises-exception`` (the tag nbval honours too): the
  cells that show a mistake on purpose, whose output is nbmigrate's one-line message. Any other
  error stops the run, and the notebook is not written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds for one cell


def execute(path: Path, kernel: str = KERNEL) -> float:
    """Execute the notebook at ``path`` and save it with its outputs; return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=CELL_TIMEOUT,
        store_widget_state=False,
        record_timing=False,
        allow_errors=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to execute (default: all in notebooks/)")
    parser.add_argument("--kernel", default=KERNEL, help=f"kernel to run them in (default: {KERNEL}, as nbval)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        try:
            seconds = execute(path.resolve(), args.kernel)
        except CellExecutionError as exc:
            print(f"{path.name}: FAILED, not written\n{exc}", file=sys.stderr)
            return 1
        print(f"{path.name}: executed and saved in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
