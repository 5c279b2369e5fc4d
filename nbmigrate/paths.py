"""How a path is shown in an output: relative to the working directory when it is below it."""

from __future__ import annotations

import os
from pathlib import Path


def relative_path(path: str | os.PathLike[str], *, resolve: bool = False) -> str:
    """``path`` relative to the working directory when it is below it (stable in saved notebooks).

    Otherwise ``path`` as given, or with ``resolve`` its full path without ``..``.
    """
    full = Path(path).resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full) if resolve else str(path)
