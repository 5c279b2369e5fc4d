"""``%%revision``: a notebook cell becomes an Alembic revision file.

The cell holds the revision's body as it would stand in the file::

    %%revision -m "add mobile number" [--apply]
    def upgrade():
        op.add_column("user", sa.Column("mobile_number", sa.String()))

    def downgrade():
        op.drop_column("user", "mobile_number")

A cell of bare statements is the upgrade body (the downgrade is then empty, and the result says
so). ``op`` and ``sa`` come from the project's own ``script.py.mako``; the cell's top-level
imports (and any other top-level code of a cell that defines ``upgrade()``) go to module level.
The file is written by Alembic itself, :meth:`ScriptDirectory.generate_revision` with the cell's
code as the template's ``imports`` / ``upgrades`` / ``downgrades``, so its id, ``down_revision``,
slug and docstring header are Alembic's and the ``alembic`` command line runs it unchanged.

Nothing is written until the cell passed every check: Python syntax, an upgrade, a message that
fits a docstring, exactly one parent (several heads need ``--head``), an unused ``--rev-id``
and branch label, and a ``--version-path`` that is one of the project's version locations.

``--autogenerate`` compares a ``MetaData`` of the kernel (``--metadata Base.metadata``, or a
``target_metadata`` variable) with the database through the project's ``env.py``, which gets
the kernel's connection and the MetaData in ``config.attributes``; the detected operations come
first in ``upgrade()`` (last in ``downgrade()``), followed by the cell's own code, if any.
``--apply`` upgrades the database to the new revision at once. (IPython refuses a cell magic
whose body is empty: a cell that only autogenerates needs a line, e.g. a comment, below the
magic line.)

Re-running a cell never makes a second revision. A cell is recognised by, in this order:

1. its ``--rev-id`` (together with the front end's cell id when there is one, so another cell
   naming the same id is refused as taking an id that is taken);
2. else the front end's cell id (Jupyter sends one with every execution);
3. else (a terminal, or the Python API without ``cell_id``) its message: the revision a cell
   wrote with this message, wherever it now stands in the history; when several cells wrote
   one, the one built on the parent this cell names (``--head``, default the current head).

The kernel keeps, per project, a record of cell key → revision id and hashes; the generated file
carries the same as a comment (``# nbmigrate-cell: key=... cell=... [ops=...]``) so a restarted
kernel still recognises it. ``cell`` hashes everything the cell decides (message, parent, labels,
code); ``ops`` hashes what autogenerate produced. On a re-run:

- nothing changed → ``"unchanged"`` (with ``--autogenerate`` the model is compared again too);
- changed, not applied to the database → the file is rewritten in place, same revision id;
- changed and applied → refused with a message; with ``--apply``, when the revision is one of
  the database's current heads, it is downgraded with the applied code (that revision alone,
  ``REV@-1``), rewritten, and upgraded with the new code (``"reapplied"``).

A rewrite keeps the revision's parent unless the cell names another with ``--head``; a changed
message changes the file name (Alembic's slug), and the old file is removed. Without a cell id,
two cells with the same message are one cell: give each cell its own message (or ``--rev-id``).
A revision whose applied ``downgrade()`` is empty is never re-applied: undoing it would leave
its changes in the database under the new code.

The package's modules, each importing only those before it in this list:

- :mod:`.result`: :class:`CellResult`, what a cell made;
- :mod:`.options`: the magic line's parser and :class:`CellOptions`;
- :mod:`.code`: a cell's code split into imports, module code, upgrade and downgrade bodies;
- :mod:`.memory`: the kernel's records of cells, the files' markers, the hashes;
- :mod:`.history`: the project's revisions as a cell sees them, and the checks on them;
- :mod:`.autogen`: ``--autogenerate`` through the project's env.py;
- :mod:`.write`: the file to write, and writing or rewriting it through Alembic;
- :mod:`.steps` and :mod:`.run`: the engine, the steps of one run and the flow that joins them.
"""

from __future__ import annotations

from ..parser import resolve_metadata
from .code import CellCode, split_cell
from .memory import records
from .options import CellOptions, parse_line
from .result import CellResult
from .run import revision_cell, run_cell

__all__ = [
    "CellCode", "CellOptions", "CellResult", "parse_line", "records", "resolve_metadata", "revision_cell", "run_cell",
    "split_cell",
]

