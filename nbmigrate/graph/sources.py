"""What a revision's file says: its message, its long description, and the source of upgrade() and downgrade()."""

from __future__ import annotations

import ast
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class _Source:
    path: str | None
    module: Any


def _first_line(doc: str) -> str:
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def _doc_of(rev: Any) -> str:
    try:
        doc = getattr(rev, "doc", "")
    except Exception:  # a Script without a loadable module: show it, without a message
        return ""
    return doc if isinstance(doc, str) else ""


def _long_doc_of(rev: Any, doc: str) -> str:
    try:
        long = getattr(rev, "longdoc", None)
    except Exception:
        long = None
    return long if isinstance(long, str) and long else doc


def _function_sources(
    path: str | None, module: Any, names: tuple[str, ...]
) -> tuple[str | None, ...]:
    """Source of top-level functions, read from the file (current text) or else the module."""
    found: dict[str, str] = {}
    if path and path.endswith(".py") and os.path.isfile(path):
        try:
            text = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            tree = None
        if tree is not None:
            lines = text.splitlines()
            for item in tree.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                    start = min([d.lineno for d in item.decorator_list] + [item.lineno])
                    end = item.end_lineno or item.lineno
                    found.setdefault(item.name, "\n".join(lines[start - 1 : end]))
    if module is not None:
        for fn_name in names:
            if fn_name in found or not callable(getattr(module, fn_name, None)):
                continue
            try:
                found[fn_name] = inspect.getsource(getattr(module, fn_name)).rstrip("\n")
            except (OSError, TypeError):
                pass
    return tuple(found.get(n) for n in names)
