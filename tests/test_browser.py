"""End to end: the getting-started tutorial in a real JupyterLab, driven through Debian's Chromium.

One JupyterLab server and one browser serve the whole module (module-scoped fixtures); the tests
run in file order on the same open notebook:

1. Kernel → Restart Kernel and Run All Cells: no error output, schema tables shown, the live graph
   widget draws its SVG with revisions 0001 and 0002.
2. In the widget: click revision 0001, see its details, "Downgrade to here", Confirm; the database
   (read with SQLAlchemy) is at 0001 and the graph redraws with 0001 as the current revision.
3. A ``%%revision`` cell typed into a new cell writes its file; ``%migrate graph`` shows it.
4. ``%migrate upgrade nosuchrev`` is a one-line error, no traceback.
5. Screenshots of every step go to ``artifacts/browser/`` (git-ignored).
6. The notebook saved by JupyterLab, exported with ``jupyter nbconvert --to html`` and opened as a
   ``file://`` page with every network request refused, still shows the graph SVG and the tables.

Without Chromium at /usr/bin/chromium (or Playwright) the tests skip, unless
``NBMIGRATE_REQUIRE_BROWSER`` is set: then they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser_support import (
    ARTIFACTS,
    CELL_MS,
    PAGE_MS,
    REPO,
    RUN_MS,
    WIDGET_MS,
    JupyterLab,
    Notebook,
    PageErrors,
    chromium,
    jupyterlab,
    offline,
    output_text,
    require_browser,
    run_quiet,
    shot,
    stderr_outputs,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "01_getting_started.ipynb"
SOURCE = REPO / "notebooks" / NOTEBOOK
VIEWPORT = {"width": 1400, "height": 1300}

NEW_REVISION = """%%revision -m "add email" --rev-id 0003
def upgrade():
    op.add_column("user", sa.Column("email", sa.String(100)))


def downgrade():
    with op.batch_alter_table("user") as batch:
        batch.drop_column("email")
"""


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """``artifacts/browser/``, emptied of the previous run's files."""
    require_browser()
    if ARTIFACTS.exists():  # no stale screenshot from an earlier run may pass for this one
        for old in ARTIFACTS.iterdir():
            if old.suffix in (".png", ".html", ".ipynb", ".log"):
                old.unlink(missing_ok=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[JupyterLab]:
    with jupyterlab(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(artifacts: Path) -> Iterator[Any]:
    with chromium() as b:
        yield b


@dataclass
class Session:
    lab: JupyterLab
    page: Any
    nb: Notebook
    errors: PageErrors
    timings: dict[str, float] = field(default_factory=dict)
    db_path: Path | None = None

    def graph_cell(self, nth: int = 0) -> Any:
        return self.nb.code_cell_with("%migrate graph").nth(nth)

    def widget(self, nth: int = 0) -> Any:
        """The live graph widget of the ``nth`` ``%migrate graph`` cell, once it has drawn."""
        cell = self.graph_cell(nth)
        svg = cell.locator(".nbm-gw .nbm-gw-svg svg")
        try:
            svg.wait_for(state="visible", timeout=WIDGET_MS)
        except Exception:  # noqa: BLE001 - turned into a readable failure
            pytest.fail(
                "the graph widget did not draw its SVG in the notebook.\n"
                f"cell output: {output_text(cell)[:500]!r}\n"
                f"browser errors:\n{self.errors}",
                pytrace=False,
            )
        return cell.locator(".nbm-gw")


@pytest.fixture(scope="module")
def session(lab: JupyterLab, browser: Any) -> Iterator[Session]:
    """The tutorial open in JupyterLab, its kernel restarted and every cell run.

    The copy has its saved outputs and execution counts cleared, so that "every cell executed"
    can only mean this run's.
    """
    nb_json = json.loads(SOURCE.read_text())
    for cell in nb_json["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    (lab.root / NOTEBOOK).write_text(json.dumps(nb_json, indent=1))
    # the token travels in a header, never in a URL (which errors and logs would quote)
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=lab.headers)
    offline(context, lab.url + "/", lab.url.replace("http", "ws", 1) + "/")
    context.set_default_timeout(PAGE_MS)
    page = context.new_page()
    errors = PageErrors(page, lab.token)
    nb = Notebook(page, NOTEBOOK)
    s = Session(lab, page, nb, errors)
    try:
        start = time.monotonic()
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}")
        nb.wait_idle(PAGE_MS)
        s.timings["open notebook + kernel"] = time.monotonic() - start

        start = time.monotonic()
        nb.restart_and_run_all()
        nb.wait_all_executed(RUN_MS)
        s.timings["restart and run all"] = time.monotonic() - start
        yield s
    finally:
        try:
            shot(page, "zz_last_state")
        except Exception as exc:  # noqa: BLE001 - a screenshot must not hide the real failure
            print(f"no last-state screenshot: {exc}")
        context.close()
        print("\nbrowser test timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in s.timings.items()))


def _db(s: Session) -> Path:
    """The tutorial's database, found through the kernel: its working directory."""
    if s.db_path is None:
        cell = s.nb.append_and_run("import os\nprint(os.getcwd())")
        cwd = Path(output_text(cell).strip())
        assert cwd.is_dir() and cwd.name.startswith("nbmigrate-getting-started-"), cwd
        assert s.lab.tmp in cwd.parents, "the scratch folder is the kernel's TMPDIR"
        s.db_path = cwd / "migrations.db"
    return s.db_path


def _database_state(db: Path) -> tuple[list[str], list[str]]:
    """(alembic_version rows, columns of ``user``) read with SQLAlchemy."""
    engine = sa.create_engine(f"sqlite:///{db}", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            versions = [
                r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
            columns = [c["name"] for c in sa.inspect(conn).get_columns("user")]
    finally:
        engine.dispose()
    return versions, columns


def _has_class(cls: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(cls)}(\s|$)")


# -- 1. run all ----------------------------------------------------------------------------------


def test_run_all_shows_tables_and_live_graph(session: Session) -> None:
    from playwright.sync_api import expect

    s, page, nb = session, session.page, session.nb
    code_cells = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell")
    assert code_cells.count() == 18
    prompts = [code_cells.nth(i).locator(".jp-InputArea-prompt").inner_text() for i in range(18)]
    assert all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), prompts

    # no error output anywhere: no stderr, no traceback, no UsageError
    assert stderr_outputs(page.locator(".jp-Notebook")) == []
    outputs = page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts()
    joined = "\n".join(outputs)
    for bad in ("Traceback", "UsageError", "Error displaying widget", "----> "):
        assert bad not in joined, f"{bad!r} in the notebook's outputs"

    # schema tables: before/after of the upgrades and `%migrate schema user`
    schema = nb.code_cell_with("%migrate schema user").locator(".nbm-schema table.nbm-t")
    expect(schema).to_be_visible()
    header = schema.locator("th").all_inner_texts()
    assert header[:5] == ["column", "type", "nullable", "default", "pk"]
    names = schema.locator("tbody tr td:first-child").all_inner_texts()
    assert names == ["id", "first_name", "last_name", "address", "mobile_number"]
    first_upgrade = nb.code_cell_with("%migrate upgrade head").first.locator("table.nbm-t")
    expect(first_upgrade.first).to_be_visible()

    # the graph: drawn by the live widget, both revisions in it; the static copy saved beside it
    # for viewers without a kernel is on the page but hidden while the widget runs
    widget = s.widget()
    static_copy = nb.code_cell_with("%migrate graph").locator(".nbm-graph-static")
    expect(static_copy).to_have_count(1)
    expect(static_copy).to_be_hidden()
    svg = widget.locator(".nbm-gw-svg svg")
    expect(svg).to_be_visible()
    box = svg.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, box
    for rid in ("0001", "0002"):
        node = svg.locator(f'g.node[id="rev-{rid}"]')
        expect(node).to_be_visible()
        assert rid in (node.text_content() or "")
    expect(svg.locator('g[id="rev-0002"]')).to_have_class(_has_class("nbm-current"))
    expect(svg.locator('g[id="rev-0001"]')).to_have_class(_has_class("nbm-applied"))
    assert "2 revisions" in widget.locator(".nbm-gw-summary").inner_text()
    expect(widget.locator(".nbm-gw-legend")).to_contain_text("current")

    widget.scroll_into_view_if_needed()
    assert shot(page, "01_notebook_after_run_all").stat().st_size > 10_000
    assert shot(widget, "02_graph_widget").stat().st_size > 5_000
    schema.scroll_into_view_if_needed()
    shot(nb.code_cell_with("%migrate schema user"), "03_schema_table")
    assert "pageerror" not in str(s.errors), s.errors


# -- 2. the widget moves the database ------------------------------------------------------------


def test_widget_downgrade_moves_database_and_redraws(session: Session) -> None:
    from playwright.sync_api import expect

    s = session
    db = _db(s)
    assert _database_state(db) == (
        ["0002"],
        ["id", "first_name", "last_name", "address", "mobile_number"],
    )

    widget = s.widget()
    widget.scroll_into_view_if_needed()
    widget.locator('.nbm-gw-svg g.node[id="rev-0001"]').click()

    # the details of 0001: id, state, message, its code
    details = widget.locator(".nbm-gw-details")
    expect(details.locator(".nbm-gw-title code")).to_have_text("0001", timeout=WIDGET_MS)
    expect(details).to_contain_text("create user table")
    expect(details).to_contain_text('op.drop_table("user")')
    expect(widget.locator('.nbm-gw-svg g[id="rev-0001"]')).to_have_class(
        _has_class("nbm-gw-selected")
    )
    upgrade = widget.get_by_role("button", name="Upgrade to here")
    downgrade = widget.get_by_role("button", name="Downgrade to here")
    expect(downgrade).to_be_enabled()
    expect(upgrade).to_be_disabled()  # 0001 is applied: only down is a move
    shot(widget, "04_widget_revision_selected")

    # downgrade asks first; nothing has happened yet
    downgrade.click()
    pending = widget.locator(".nbm-gw-pending")
    expect(pending).to_contain_text("%migrate downgrade 0001", timeout=WIDGET_MS)
    confirm = pending.get_by_role("button", name="Confirm")
    expect(confirm).to_be_visible()
    expect(pending.get_by_role("button", name="Cancel")).to_be_visible()
    assert _database_state(db)[0] == ["0002"]
    shot(widget, "05_widget_confirm_downgrade")

    confirm.click()
    # the graph redraws: the current-state style moves from 0002 to 0001
    node1 = widget.locator('.nbm-gw-svg g[id="rev-0001"]')
    node2 = widget.locator('.nbm-gw-svg g[id="rev-0002"]')
    expect(node1).to_have_class(_has_class("nbm-current"), timeout=CELL_MS)
    expect(node2).to_have_class(_has_class("nbm-pending"), timeout=WIDGET_MS)
    expect(widget.locator(".nbm-gw-busy")).to_be_hidden()
    fills = node1.locator("polygon, path").evaluate_all(
        "els => els.map(e => e.getAttribute('fill'))"
    )
    assert "#2da44e" in fills, fills  # the legend's "current" fill
    expect(widget.locator(".nbm-gw-error")).to_be_hidden()
    expect(widget.locator(".nbm-gw-result")).to_contain_text("0001")
    expect(widget.locator(".nbm-gw-summary")).to_contain_text("1 current")
    expect(widget.locator(".nbm-gw-details .nbm-gw-state")).to_have_text("current")

    # the database really moved
    assert _database_state(db) == (
        ["0001"],
        ["id", "first_name", "last_name", "address"],
    )
    widget.scroll_into_view_if_needed()
    shot(widget, "06_widget_after_downgrade")


# -- 3. a %%revision cell ------------------------------------------------------------------------


def test_revision_cell_writes_file_and_graph_shows_it(session: Session) -> None:
    from playwright.sync_api import expect

    s = session
    versions = _db(s).parent / "migrations" / "versions"
    assert not list(versions.glob("0003_*.py"))
    cell = s.nb.append_and_run(NEW_REVISION)
    assert stderr_outputs(cell) == [], output_text(cell)
    written = list(versions.glob("0003_*.py"))
    assert [p.name for p in written] == ["0003_add_email.py"], output_text(cell)
    text = written[0].read_text()
    assert re.search(r"""down_revision[^=]*=\s*['"]0002['"]""", text), text
    assert 'op.add_column("user", sa.Column("email", sa.String(100)))' in text
    assert "0003" in output_text(cell)

    graph_cell = s.nb.append_and_run("%migrate graph")
    widget = s.widget(1)
    svg = widget.locator(".nbm-gw-svg svg")
    for rid in ("0001", "0002", "0003"):
        expect(svg.locator(f'g.node[id="rev-{rid}"]')).to_be_visible()
    expect(svg.locator('g[id="rev-0003"]')).to_have_class(_has_class("nbm-pending"))
    expect(svg.locator('g[id="rev-0001"]')).to_have_class(_has_class("nbm-current"))
    assert "add email" in (svg.locator('g[id="rev-0003"]').text_content() or "")
    graph_cell.scroll_into_view_if_needed()
    shot(s.page, "07_revision_cell_and_new_graph")
    shot(widget, "08_new_graph_widget")


# -- 4. a user mistake ---------------------------------------------------------------------------


def test_wrong_magic_is_one_line_without_traceback(session: Session) -> None:
    s = session
    before = _database_state(_db(s))
    cell = s.nb.append_and_run("%migrate upgrade nosuchrev")
    errors = stderr_outputs(cell)
    text = output_text(cell).strip()
    assert errors, f"no error shown: {text!r}"
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "nosuchrev" in lines[0], text
    assert lines[0].startswith("UsageError: "), text
    for bad in ("Traceback", "----> ", 'File "'):
        assert bad not in text, text
    assert _database_state(_db(s)) == before  # nothing moved
    cell.scroll_into_view_if_needed()
    shot(cell, "09_usage_error")


# -- 6. the saved notebook without a kernel -------------------------------------------------------


def test_saved_notebook_exported_to_html_shows_graph_offline(
    session: Session, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    s = session
    s.nb.save()
    saved = s.lab.root / NOTEBOOK
    nb = json.loads(saved.read_text())
    graph_outputs = [
        o
        for c in nb["cells"]
        if c["cell_type"] == "code" and "".join(c["source"]).startswith("%migrate graph")
        for o in c["outputs"]
    ]
    # Each graph cell saved its static copy (the SVG in text/html) and the widget view.
    static = [o for o in graph_outputs if "nbm-graph-static" in "".join(o.get("data", {}).get("text/html", ""))]
    views = [o for o in graph_outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(static) == len(views) == 2 and all("<svg" in "".join(o["data"]["text/html"]) for o in static)
    # JupyterLab saves no widget state by default (with it, see the next test)
    assert "widgets" not in nb["metadata"], nb["metadata"].keys()

    out = tmp_path / "html"
    run_quiet(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "html",
            f"--output-dir={out}",
            str(saved),
        ],
        env=s.lab.env(),
        cwd=tmp_path,
    )
    html = out / NOTEBOOK.replace(".ipynb", ".html")
    shutil.copy(html, ARTIFACTS / html.name)
    shutil.copy(saved, ARTIFACTS / NOTEBOOK)

    context = browser.new_context(viewport=VIEWPORT)
    offline(context)  # nothing but the file itself: no kernel, no CDN
    try:
        page = context.new_page()
        page.goto(html.as_uri(), wait_until="load", timeout=PAGE_MS)
        graphs = page.locator(".nbm-graph .nbm-graph-svg svg")
        expect(graphs.first).to_be_visible(timeout=WIDGET_MS)
        assert graphs.count() == 2  # the tutorial's graph and the one test 3 added
        first = graphs.first
        for rid in ("0001", "0002"):
            expect(first.locator(f'g.node[id="rev-{rid}"]')).to_be_visible()
        expect(first.locator('g[id="rev-0002"]')).to_have_class(_has_class("nbm-current"))
        expect(graphs.nth(1).locator('g[id="rev-0003"]')).to_be_visible()
        assert page.locator(".nbm-gw").count() == 0  # no live widget here: the static SVG
        schema = page.locator(".nbm-schema table.nbm-t").first
        expect(schema).to_be_visible()
        expect(schema).to_contain_text("mobile_number")
        assert page.locator("table.nbm-t").count() > 5
        graphs.first.scroll_into_view_if_needed()
        shot(page, "10_html_export")
        shot(page.locator(".nbm-graph").first, "11_html_export_graph")
    finally:
        context.close()


def test_executed_notebook_html_export_shows_graph_offline(
    browser: Any, lab: JupyterLab, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shutil.copy(SOURCE, tmp_path / NOTEBOOK)
    run_quiet(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "html",
            "--execute",
            NOTEBOOK,
        ],
        env=lab.env(),
        cwd=tmp_path,
    )
    html = tmp_path / NOTEBOOK.replace(".ipynb", ".html")
    shutil.copy(html, ARTIFACTS / "executed_by_nbconvert.html")
    context = browser.new_context(viewport=VIEWPORT)
    offline(context)
    try:
        page = context.new_page()
        page.goto(html.as_uri(), wait_until="load", timeout=PAGE_MS)
        graph_cell = page.locator(".jp-CodeCell").filter(has_text="%migrate graph").first
        graph_cell.scroll_into_view_if_needed()
        shot(page, "12_executed_by_nbconvert_html")
        expect(page.locator('svg g.node[id="rev-0001"]').first).to_be_visible(timeout=5_000)
    finally:
        context.close()


# -- the token stays secret ----------------------------------------------------------------------


def test_token_is_in_no_log_or_artifact(session: Session) -> None:
    secret = session.lab.token.reveal().encode()
    places = [
        session.lab.log_path,
        *sorted(p for p in ARTIFACTS.iterdir() if p.is_file()),
    ]
    leaked = []
    for path in places:
        try:
            if secret in path.read_bytes():
                leaked.append(str(path))
        except FileNotFoundError:  # another run of the suite replaced the artifacts meanwhile
            continue
    if leaked:  # never let an assertion message print the token itself
        pytest.fail(f"the server token appears in {leaked}", pytrace=False)
