"""Small building blocks for the HTML every result renders.

The HTML is self-contained (inline ``<style>``, no scripts) so it survives in saved notebooks,
on GitHub and nbviewer. Every class name starts with ``nbm-``. Every text goes in through
:func:`esc` or :func:`code`, which mask its passwords (:mod:`nbmigrate.masking`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..masking import mask

STYLE = """<style>
.nbm{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;line-height:1.4}
.nbm .nbm-erd-svg{overflow:auto;max-width:100%;max-height:80vh;border:1px solid #8c959f;padding:4px}
.nbm table.nbm-t{border-collapse:collapse;margin:4px 0}
.nbm table.nbm-t th,.nbm table.nbm-t td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
.nbm table.nbm-t th{background:#f3f3f3}
.nbm .nbm-title{font-weight:600;margin:2px 0}
.nbm .nbm-meta{color:#555}
.nbm .nbm-ok{color:#1a7f37}
.nbm .nbm-warn{color:#9a6700}
.nbm .nbm-err{color:#cf222e}
.nbm .nbm-added{background:#dafbe1}
.nbm .nbm-removed{background:#ffebe9;text-decoration:line-through}
.nbm .nbm-changed{background:#fff8c5}
.nbm .nbm-current{font-weight:600}
.nbm .nbm-pending{color:#6e7781}
.nbm pre{background:#f6f8fa;padding:6px;overflow-x:auto;margin:2px 0}
.nbm details>summary{cursor:pointer}
.nbm code{font-family:var(--jp-code-font-family,monospace)}
</style>"""


_SPECIAL = re.compile(r"[&<>\"']")


def esc(value: object) -> str:
    """Escape any value for HTML text or attributes, its passwords masked.

    Masked here, before escaping: each value is whole (a URL, a parameter listing), and the
    patterns see its quotes as quotes, not as entities.
    """
    text = "" if value is None else mask(str(value))
    return html.escape(text, quote=True) if _SPECIAL.search(text) else text  # most ids and messages: as they are


_TICKS = re.compile(r"`([^`]+)`")


def prose(value: object) -> str:
    """A message for HTML: escaped, with its `backticked` parts (commands, names) as code."""
    return _TICKS.sub(r"<code>\1</code>", esc(value))


def wrap(body: str, *, cls: str = "") -> str:
    """The outer container of a rendered result, with the shared stylesheet."""
    extra = f" {cls}" if cls else ""
    return f'<div class="nbm{extra}">{STYLE}{body}</div>'


def title(text: str, *, meta: str = "") -> str:
    """A result's heading line; ``meta`` is escaped and shown greyed after it."""
    tail = f' <span class="nbm-meta">{esc(meta)}</span>' if meta else ""
    return f'<div class="nbm-title">{esc(text)}{tail}</div>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    row_classes: Iterable[str] | None = None,
    body: str = "",
) -> str:
    """A table; ``rows`` hold ready-made HTML cells (escape them with :func:`esc`).

    ``body`` is ready-made ``<tr>`` rows, put after ``rows`` (for tables of thousands of rows).
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    classes = iter(row_classes) if row_classes is not None else None
    lines = []
    for row in rows:
        cls = next(classes, "") if classes is not None else ""
        attr = f' class="{cls}"' if cls else ""
        lines.append(f"<tr{attr}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f'<table class="nbm-t"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}{body}</tbody></table>'


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """A collapsible section; ``summary`` is escaped, ``body`` is HTML."""
    flag = " open" if open_ else ""
    return f"<details{flag}><summary>{esc(summary)}</summary>{body}</details>"


# Above this many characters source is shown plain: highlighting with inline styles makes the HTML
# about 8 times larger and costs about 1 ms per kilobyte (the SQL of a 1,000-revision upgrade,
# 200 KB, took 0.2 s and became 1.6 MB of HTML in the notebook).
HIGHLIGHT_LIMIT = 20_000


def code(source: str, language: str = "sql") -> str:
    """Highlighted source code (``sql`` or ``python``) with inline styles; plain above :data:`HIGHLIGHT_LIMIT`.

    Pygments supplies only the tokens; their colours (:data:`_PALETTE`) and the markup are
    nbmigrate's, escaped by :func:`esc`, so saved outputs do not change with a Pygments release
    (its escaping and its default style's colours have both changed over the years).
    """
    if len(source) > HIGHLIGHT_LIMIT:
        return f"<pre><code>{esc(source)}</code></pre>"
    try:
        from pygments.lexers import get_lexer_by_name
    except ImportError:  # pragma: no cover - pygments is a dependency
        return f"<pre><code>{esc(source)}</code></pre>"
    parts: list[str] = []
    run_css, run_text = "", ""
    for token, value in get_lexer_by_name(language).get_tokens(source):
        css = _inline_css(token)
        if css != run_css and run_text:
            parts.append(_styled(run_css, run_text))
            run_text = ""
        run_css, run_text = css, run_text + value
    parts.append(_styled(run_css, run_text))
    return f"<pre><code>{''.join(parts)}</code></pre>"


def _palette() -> list[tuple[Any, str]]:
    from pygments.token import Comment, Keyword, Name, Number, Operator, String

    # Most specific first: a token takes the first entry it is a kind of.
    return [
        (Comment, "color: #3D7B7B; font-style: italic"),
        (Keyword.Type, "color: #B00040"),
        (Keyword, "color: #008000; font-weight: bold"),
        (String, "color: #BA2121"),
        (Number, "color: #666666"),
        (Operator.Word, "color: #AA22FF; font-weight: bold"),
        (Operator, "color: #666666"),
        (Name.Builtin, "color: #008000"),
        (Name.Function, "color: #0000FF"),
        (Name.Class, "color: #0000FF; font-weight: bold"),
        (Name.Namespace, "color: #0000FF; font-weight: bold"),
        (Name.Decorator, "color: #AA22FF"),
    ]


_PALETTE: list[tuple[Any, str]] = []


def _inline_css(token: Any) -> str:
    """The inline CSS of one token type: the first entry of :data:`_PALETTE` it is a kind of."""
    if not _PALETTE:
        _PALETTE.extend(_palette())
    for kind, css in _PALETTE:
        if token in kind:
            return css
    return ""


def _styled(css: str, text: str) -> str:
    if not text:
        return ""
    return f'<span style="{css}">{esc(text)}</span>' if css and text.strip() else esc(text)


def span(text: object, cls: str) -> str:
    """Escaped text in a span of one ``nbm-`` class."""
    return f'<span class="{cls}">{esc(text)}</span>'


def notebook_front_end(shell: object = None) -> bool:
    """Whether displays reach a front end that renders HTML and widgets (a kernel), not a terminal.

    A terminal's display publisher prints each display as text (an HTML-only one as nothing, and
    every update as a new line), so live outputs are shown only where a front end renders them.
    """
    from IPython import get_ipython
    from IPython.core.displaypub import DisplayPublisher

    publisher = getattr(shell if shell is not None else get_ipython(), "display_pub", None)
    return publisher is not None and type(publisher) is not DisplayPublisher
