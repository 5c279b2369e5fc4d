"""HTML and text for :class:`~nbmigrate.lint.LintResult`: findings riskiest first, each with its recipe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..paths import relative_path
from ._html import code, details, esc, prose, span, table, title

if TYPE_CHECKING:
    from ..lint.analyze import Finding
    from ..lint.report import LintResult
    from ..lint.rules import Rule

_CLASS = {"error": "nbm-err", "warning": "nbm-warn", "info": "nbm-meta"}
_MARK = {"error": "✗", "warning": "⚠", "info": "i"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _server(result: LintResult) -> str:
    version = ".".join(str(p) for p in result.server_version) if result.server_version else "version unknown"
    return f"{result.dialect} {version}"


def _summary(result: LintResult) -> str:
    counts = result.counts()
    parts = [_plural(len(result.revisions), "revision")]
    parts += [_plural(counts[k], k) for k in ("error", "warning", "info") if counts[k]]
    if counts["allowed"]:
        parts.append(f"{counts['allowed']} allowed")
    return ", ".join(parts)


def _verdict(result: LintResult) -> str:
    if result.ok:
        return "ok" if not result.findings else f"ok at fail level {result.policy.fail}"
    return f"FAILED: {_plural(len(result.blocking()), 'finding')} at fail level {result.policy.fail}"


def _where(f: Finding) -> str:
    path = relative_path(f.path) if f.path else ""
    return f"{path}:{f.line}" if path and f.line else path


_DOES = {"rewrites": "rewrites", "scans": "scans", "breaks": "breaks running code"}


def _does(f: Finding) -> str:
    return " · ".join(([f.lock] if f.lock else []) + [_DOES[e] for e in f.effects])


# -- text -----------------------------------------------------------------------------------------


def lint_text(result: LintResult) -> str:
    """The lint as plain text: a header, then each finding with what it does and its recipe."""
    lines = [f"{result.command}  ({_server(result)}, {result.database}; {_summary(result)})", _verdict(result)]
    main = [f for f in result.findings if not f.allowed and f.severity != "info"]
    for f in main:
        lines.append(f"{f.severity:<7} {f.code} {f.name}  {f.revision}  {_where(f)}")
        lines.append(f"        {f.message}")
        if _does(f):
            lines.append(f"        {_does(f)}")
        lines += ["        recipe:"] + [f"          {line}" for line in f.recipe.splitlines()]
    for f in (f for f in result.findings if not f.allowed and f.severity == "info"):
        lines.append(f"info    {f.code} {f.name}  {f.revision}: {f.message}")
    for f in (f for f in result.findings if f.allowed):
        lines.append(f"allowed {f.code} {f.name}  {f.revision}: {f.message}")
    if not result.findings:
        lines.append("No findings: nothing in these revisions blocks or rewrites a table.")
    return "\n".join(lines)


# -- HTML -----------------------------------------------------------------------------------------


_CODE_STARTS = ("op.", "with ", "from ", "sa.", "#", "import ")


def _recipe_html(recipe: str) -> str:
    """Alembic code highlighted as Python; a recipe in words as text."""
    if recipe.lstrip().startswith(_CODE_STARTS):
        return code(recipe, "python")
    return "<div>" + "<br>".join(prose(line) for line in recipe.splitlines()) + "</div>"


def _row(f: Finding) -> list[str]:
    sev = span(f"{_MARK[f.severity]} {f.severity}", _CLASS[f.severity])
    rule = f"<code>{esc(f.code)}</code> {esc(f.name)}"
    where = f"<code>{esc(f.revision)}</code>" + (f"<br><span class=\"nbm-meta\">{esc(_where(f))}</span>" if f.path else "")
    body = prose(f.message) + (f'<br><span class="nbm-meta">{esc(_does(f))}</span>' if _does(f) else "")
    body += details("safe recipe", _recipe_html(f.recipe)) + details("statement", code(f.statement or "-- (none)"))
    return [sev, rule, where, body]


def lint_html(result: LintResult) -> str:
    """The lint as HTML: errors and warnings in a table with their recipes; infos and allowed ones collapsed."""
    meta = f"{_server(result)} · {result.database} · {_summary(result)}"
    verdict = span(_verdict(result), "nbm-ok" if result.ok else "nbm-err")
    parts = [title(result.command, meta=meta), f"<div>{verdict}</div>"]
    headers = ["severity", "rule", "revision", "what it does"]
    main = [f for f in result.findings if not f.allowed and f.severity != "info"]
    if main:
        parts.append(table(headers, [_row(f) for f in main]))
    elif not result.findings:
        parts.append("<div>No findings: nothing in these revisions blocks or rewrites a table.</div>")
    infos = [f for f in result.findings if not f.allowed and f.severity == "info"]
    if infos:
        parts.append(details(_plural(len(infos), "info finding"), table(headers, [_row(f) for f in infos])))
    allowed = [f for f in result.findings if f.allowed]
    if allowed:
        parts.append(details(f"{len(allowed)} allowed by marker comments", table(headers, [_row(f) for f in allowed])))
    if result.revisions:
        rows = [[f"<code>{esc(r.revision)}</code>", esc(r.message), esc(str(len(r.statements))),
                 esc(str(len(result.for_revision(r.revision))))] for r in result.revisions]
        parts.append(details(_plural(len(result.revisions), "revision") + " read",
                             table(["revision", "message", "statements", "findings"], rows)))
    return "".join(parts)


# -- the rule table ---------------------------------------------------------------------------------


def _effects(rule: Rule) -> list[str]:
    out = []
    for dialect, effects in rule.effects.items():
        for e in sorted(effects, key=lambda e: e.since):
            if not e.lock:
                continue
            since = f" (from {'.'.join(map(str, e.since))})" if e.since else ""
            does = ", rewrites" if e.rewrites else ", scans" if e.scans else ""
            sev = f", {e.severity}" if e.severity else ""
            out.append(f"{dialect}{since}: {e.lock}{does}{sev}")
    return out


def rules_text(rules: Sequence[Rule]) -> str:
    """The rule table as text: one line per rule (code, severity, name, dialects)."""
    lines = [f"{'code':<7} {'severity':<8} {'name':<40} dialects"]
    lines += [f"{r.code:<7} {r.severity:<8} {r.name:<40} {', '.join(r.dialects)}" for r in rules]
    return "\n".join(lines)


class _Placeholders(dict):  # type: ignore[type-arg]
    """Fills a template's fields with words that say what goes there (``{table}`` → ``TABLE``)."""

    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style

    def __missing__(self, key: str) -> str:
        if key == "size":
            return ""
        return f"*{key}*" if self.style == "prose" else key.upper()


def rules_markdown(rules: Sequence[Rule]) -> str:
    """The rule table as the Markdown of ``docs/lint.md``: each rule's message, explanation, effects and recipe."""
    out = [
        "# Lint rules",
        "",
        "Generated from `nbmigrate/lint/rules.py` by `python -m nbmigrate lint --rules --format markdown`;",
        "a test keeps the two the same.",
        "",
        "The linter renders each revision's upgrade offline (the SQL `upgrade --sql` writes), parses every",
        "statement with sqlglot in the database's dialect, and says per statement which lock it takes on",
        "which table, whether it rewrites or scans the table, whether it breaks application code that is",
        "still running, and the safe recipe. Findings are sized by the connected database's tables and",
        "sorted riskiest first. `python -m nbmigrate lint [RANGE]` (default: the revisions pending in the",
        "database; `base:heads`, `a:b` or a target) exits 1 when a finding is at the fail level, 2 on a usage",
        "error; `--format json` and `--format github` (workflow annotations) are for CI.",
        "",
        "Locks are named as the database reports them: PostgreSQL's `pg_locks.mode`, MySQL/MariaDB's",
        "`ALGORITHM=..., LOCK=...` clause the server accepts for the statement. A version in parentheses is",
        "the first server release the line holds for; with no database connected, the newest releases are",
        "assumed unless `nbmigrate.lint.server_version` says otherwise. Changes to a table created in the",
        "same revision block no one and are not flagged (except where the statement fails, or the type is",
        "the point).",
        "",
        "A revision allows a rule with a comment anywhere in its file (still reported, as allowed):",
        "",
        "```python",
        "# nbmigrate: allow NBM108 -- the column is unused since release 4.2",
        "```",
        "",
        "A project sets its policy in the `[alembic]` section of `alembic.ini`",
        "(`nbmigrate.lint.fail = error|warning|never`, `nbmigrate.lint.disable = NBM601, NBM003`,",
        "`nbmigrate.lint.server_version = 15`) or in `[tool.nbmigrate.lint]` of `pyproject.toml`",
        "(`fail = \"warning\"`, `disable = [\"NBM601\"]`); the ini file wins where both set an option.",
        "",
        "`upgrade` (and `%%revision --apply`, and the graph widget's \"upgrade to here\") lints what it",
        "would apply first and refuses a finding at the fail level (`error` unless the policy says",
        "otherwise), naming the finding, its revision and the recipe; `--accept-risk` runs it anyway and",
        "still shows the findings. `fail = never` turns the check off.",
        "",
        "| code | name | severity | message |",
        "|---|---|---|---|",
    ]
    prose, code_words = _Placeholders("prose"), _Placeholders("code")
    out += [f"| {r.code} | {r.name} | {r.severity} | {r.message.format_map(prose).replace('|', '/')} |" for r in rules]
    for r in rules:
        out += ["", f"## {r.code} {r.name}", "", f"Severity: {r.severity}."
                + (" Breaks application code that is still running." if r.backward_incompatible else ""), "",
                r.explanation, ""]
        effects = _effects(r)
        if effects:
            out += [f"- {line}" for line in effects] + [""]
        out += ["Safe recipe:", "", "```python", r.recipe.format_map(code_words), "```"]
        for dialect, recipe in r.recipes.items():
            out += ["", f"On {dialect}:", "", "```", recipe.format_map(code_words), "```"]
    return "\n".join(out) + "\n"


# -- inside other results ------------------------------------------------------------------------------


def lint_section_html(result: LintResult) -> str:
    """The lint carried by an ``upgrade``/``--sql``/``--preview`` result, collapsed unless it has warnings or errors."""
    risky = [f for f in result.findings if not f.allowed and f.severity != "info"]
    label = f"lint: {_summary(result)}" if result.findings else "lint: no findings"
    return details(label, lint_html(result), open_=bool(risky))


def _same_statement(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.replace(";", " ").split()).lower()

    return norm(a) == norm(b)


def proof_rows(lint: LintResult | None, observed: Sequence[object]) -> list[tuple[str, str, str, str]]:
    """Per observed statement that took a lock: (statement, what PostgreSQL held, the lint's claim, verdict).

    The verdict is "confirmed" when the claimed lock is the one held on the table and a claimed
    rewrite changed its storage; "contradicted" (a bug in the rules) otherwise; "no claim" when
    the lint said nothing of the statement.
    """
    findings = list(lint.findings) if lint is not None else []
    rows = []
    for obs in observed:
        statement, held, new, rewritten = obs.statement, obs.held, obs.new, obs.rewritten  # type: ignore[attr-defined]
        if not new and not rewritten:
            continue
        seen = ", ".join(f"{t}: {m}" for t, m in sorted(new.items())) + (f"; rewrote {', '.join(rewritten)}" if rewritten else "")
        claims = [f for f in findings if f.lock and _same_statement(f.statement, statement)]
        if not claims:
            rows.append((statement, seen, "", "no claim"))
            continue
        claim = claims[0]
        said = f"{claim.code}: {claim.lock}" + ("; rewrites" if claim.rewrites else "")
        rows.append((statement, seen, said, _verdict_of(claim, held, new, rewritten)))
    return rows


def _verdict_of(claim: Finding, held: dict, new: dict, rewritten: Sequence[str]) -> str:
    """Whether what the server held after the statement bears the claim out."""
    from ..observe import LOCK_ORDER

    if not claim.table:
        return "no claim"
    emptied = claim.statement.lstrip().upper().startswith("TRUNCATE")  # new, empty storage: no row is rewritten
    if (claim.table in rewritten) != (claim.rewrites or emptied):
        return "contradicted: a bug in nbmigrate's rules"
    if claim.table in new:  # the statement took (or strengthened) the table's lock: it must be the claimed one
        return "confirmed" if new[claim.table] == claim.lock else "contradicted: a bug in nbmigrate's rules"
    mode = held.get(claim.table)
    if mode in LOCK_ORDER and claim.lock in LOCK_ORDER and LOCK_ORDER.index(mode) >= LOCK_ORDER.index(claim.lock):
        return f"not told apart: the run already held {mode}"
    return "contradicted: a bug in nbmigrate's rules"


def proof_html(lint: LintResult | None, observed: Sequence[object]) -> str:
    """What PostgreSQL held after each statement of a preview, beside the lint's claims."""
    rows = proof_rows(lint, observed)
    if not rows:
        return ""
    cells = [[code(s), esc(seen), esc(claim), span(verdict, "nbm-err" if verdict.startswith("contradicted") else "nbm-ok")]
             for s, seen, claim, verdict in rows]
    return details("locks PostgreSQL held (proved in the rolled-back run)", table(["statement", "held", "lint says", ""], cells),
                   open_=any(r[3].startswith("contradicted") for r in rows))
