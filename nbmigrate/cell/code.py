"""A cell's code split into the revision's parts (imports, module code, upgrade and downgrade bodies), with the checks on it."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import BadArguments

# What Alembic's template imports already; the same lines in a cell are not repeated.
_TEMPLATE_IMPORTS = {"from alembic import op", "import sqlalchemy as sa"}


@dataclass(frozen=True)
class CellCode:
    """A cell split for the template: module-level imports and code, and the two bodies.

    ``upgrade`` and ``downgrade`` are indented by four spaces on every line (the template puts
    the first line after its own indentation); ``downgrade`` is ``None`` when the cell has none.
    """

    imports: str = ""
    module: str = ""
    upgrade: str = ""
    downgrade: str | None = None
    bare: bool = True

    @property
    def empty(self) -> bool:
        return not self.upgrade.strip() and self.downgrade is None


def split_cell(source: str) -> CellCode:
    """Split a cell into imports, module code and upgrade/downgrade bodies (see the module doc)."""
    source = _expand_indentation(source)
    lines = source.splitlines()
    try:
        tree = ast.parse(source, filename="<cell>")
    except SyntaxError as exc:
        raise BadArguments(_syntax_message(exc, lines)) from None
    verbatim = _string_lines(source)
    nodes = list(tree.body)
    spans = _spans(nodes, lines)
    imports: list[str] = []
    module: list[str] = []
    other: list[str] = []
    defs: dict[str, ast.FunctionDef] = {}
    def_chunks: dict[str, tuple[int, int]] = {}
    for node, (start, end) in zip(nodes, spans):
        chunk = "\n".join(lines[start - 1 : end])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                raise BadArguments(f"Line {node.lineno}: `from __future__` imports cannot go into a revision file.")
            if ast.unparse(node) not in _TEMPLATE_IMPORTS:
                imports.append(chunk)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("upgrade", "downgrade"):
            _check_def(node)
            if node.name in defs:
                raise BadArguments(f"Line {node.lineno}: the cell defines {node.name}() twice.")
            defs[node.name] = node  # type: ignore[assignment]
            def_chunks[node.name] = (start, end)
        else:
            module.append(chunk)
            other.append(chunk)
    if "downgrade" in defs and "upgrade" not in defs:
        raise BadArguments("The cell defines downgrade() but no upgrade(): add `def upgrade():` with the changes.")
    if "upgrade" not in defs:
        # Bare statements: everything but the imports is the upgrade body.
        body_lines: list[int] = []
        for node, (start, end) in zip(nodes, spans):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                body_lines.extend(range(start, end + 1))
        upgrade = _reindent(lines, body_lines, "", verbatim)
        return CellCode(imports="\n".join(imports).strip(), upgrade=upgrade, bare=True)
    bodies = {name: _body(defs[name], lines, source, def_chunks[name], verbatim) for name in defs}
    return CellCode(
        imports="\n".join(imports).strip(),
        module="\n\n".join(m.strip("\n") for m in module).strip("\n"),
        upgrade=bodies["upgrade"],
        downgrade=bodies.get("downgrade"),
        bare=False,
    )


def _expand_indentation(source: str) -> str:
    """Tabs in indentation become spaces (as Python reads them); strings keep theirs."""
    if "\t" not in source:
        return source
    verbatim = _string_lines(source)
    out = []
    for n, line in enumerate(source.splitlines(keepends=True), 1):
        stripped = line.lstrip(" \t")
        out.append(line if n in verbatim else line[: len(line) - len(stripped)].expandtabs(8) + stripped)
    return "".join(out)


def _syntax_message(exc: SyntaxError, lines: list[str]) -> str:
    where = f"line {exc.lineno}, column {exc.offset}" if exc.offset else f"line {exc.lineno}"
    text = ""
    if exc.lineno and 0 < exc.lineno <= len(lines):
        text = f": `{lines[exc.lineno - 1].strip()}`"
    return f"The cell is not valid Python ({exc.msg}) at {where} of the code below %%revision{text}. Nothing was written."


def _check_def(node: ast.AST) -> None:
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    if isinstance(node, ast.AsyncFunctionDef):
        raise BadArguments(f"Line {node.lineno}: {node.name}() cannot be async; Alembic calls it as a plain function.")
    args = node.args
    if args.args or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
        raise BadArguments(f"Line {node.lineno}: {node.name}() takes no arguments in a revision file.")
    if node.decorator_list:
        raise BadArguments(f"Line {node.lineno}: {node.name}() cannot have decorators in a revision file.")


def _spans(nodes: list[ast.stmt], lines: list[str]) -> list[tuple[int, int]]:
    """Each top-level statement's lines, with the comments and blank lines before it.

    Statements sharing a line (``a; b``) cannot be split by lines: the cell is refused.
    """
    spans = []
    previous_end = 0
    for i, node in enumerate(nodes):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        end = node.end_lineno or node.lineno
        if first <= previous_end:
            raise BadArguments(
                f"Line {first}: put each top-level statement on a line of its own (no `;` between them)."
            )
        spans.append((previous_end + 1, end))
        previous_end = end
    if spans:
        spans[-1] = (spans[-1][0], max(spans[-1][1], len(lines)))
    return spans


def _string_lines(source: str) -> set[int]:
    """Lines that continue a multi-line string: their text is kept exactly as it is."""
    inside: set[int] = set()
    starts: list[int] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            name = tokenize.tok_name.get(tok.type, "")
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0] + 1, tok.end[0] + 1))
            elif name == "FSTRING_START":
                starts.append(tok.start[0])
            elif name == "FSTRING_END" and starts:
                begin = starts.pop()
                inside.update(range(begin + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - ast.parse accepted it
        pass
    return inside


def _reindent(lines: list[str], numbers: Sequence[int], prefix: str, verbatim: set[int]) -> str:
    """Lines ``numbers`` (1-based) moved from indentation ``prefix`` to four spaces."""
    out = []
    for n in numbers:
        line = lines[n - 1]
        if n in verbatim:
            out.append(line)
        elif not line.strip():
            out.append("")
        elif line.startswith(prefix):
            out.append("    " + line[len(prefix) :].rstrip())
        else:
            out.append("    " + line.strip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _body(node: ast.FunctionDef, lines: list[str], source: str, chunk: tuple[int, int], verbatim: set[int]) -> str:
    """The body of ``def upgrade():`` (with comments) indented by four spaces."""
    colon_line, colon_col = _header_end(node, source)
    first = node.body[0]
    leading = [lines[n - 1].strip() for n in range(chunk[0], node.lineno) if lines[n - 1].strip().startswith("#")]
    head = ["    " + c for c in leading]
    rest_of_header = lines[colon_line - 1][colon_col + 1 :]
    if first.lineno == colon_line:
        # A one-line body (`def upgrade(): op.f()`), possibly continued on following lines.
        text = rest_of_header.strip()
        head.append("    " + text)
        tail = _reindent(lines, range(colon_line + 1, (node.end_lineno or colon_line) + 1), "", verbatim)
        return "\n".join(head + ([tail] if tail else []))
    if rest_of_header.strip().startswith("#"):
        head.append("    " + rest_of_header.strip())
    first_line = lines[first.lineno - 1]
    prefix = first_line[: len(first_line) - len(first_line.lstrip())]
    body = _reindent(lines, range(colon_line + 1, (node.end_lineno or colon_line) + 1), prefix, verbatim)
    return "\n".join([*head, body]) if head else body


def _header_end(node: ast.FunctionDef, source: str) -> tuple[int, int]:
    """Line and column of the ``:`` that ends a ``def`` header."""
    depth = 0
    started = False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if not started:
            if tok.start[0] == node.lineno and tok.type == tokenize.NAME and tok.string == "def":
                started = True
            continue
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                return tok.start[0], tok.start[1]
    raise AssertionError("a parsed def has a header")  # pragma: no cover
