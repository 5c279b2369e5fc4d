"""GraphWidget driven from Python: selection, actions, confirmation, errors, saved output."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import Revision
from IPython.core.error import UsageError

from nbmigrate.graph import RevisionGraph, render_svg
from nbmigrate.widgets import GraphWidget

IDS = ("0001", "0002", "0003")
BODY = '''def upgrade() -> None:
    """Upgrade schema."""
    op.create_table("t_{rid}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("t_{rid}")
'''


class Result:
    """A stand-in for the result objects of ``%migrate`` (a preview's carries its data-loss notes)."""

    def __init__(self, line: str, data_loss: list[str] | None = None) -> None:
        self.line = line
        self.diff = type("Diff", (), {"data_loss": data_loss})() if data_loss is not None else None

    def _repr_html_(self) -> str:
        return f"<div class='fake-result'>{self.line}</div>"


class Lint:
    """A stand-in for ``%migrate lint``'s result: its findings and whether policy refuses them."""

    def __init__(self, findings: list[Any], blocking: bool) -> None:
        self.findings = findings
        self._blocking = blocking

    def blocking(self) -> list[Any]:
        return list(self.findings) if self._blocking else []


class Harness:
    """A real revision graph over real files, a fake database state and a recording runner."""

    def __init__(self, root: Path) -> None:
        ini = root / "alembic.ini"
        command.init(Config(str(ini), stdout=io.StringIO()), str(root / "migrations"))
        cfg = Config(str(ini), stdout=io.StringIO())
        for rid, message in zip(IDS, ("create user", "add email", "add phone")):
            script = command.revision(cfg, message=message, rev_id=rid)
            path = Path(script.path)  # type: ignore[union-attr]
            text = path.read_text()
            path.write_text(text[: text.index("def upgrade()")] + BODY.format(rid=rid))
        self.script = ScriptDirectory.from_config(cfg)
        self.current: tuple[str, ...] = ("0001",)
        self.lines: list[str] = []
        self.builds = 0
        self.fail_with: Exception | None = None
        self.data_loss: list[str] | None = []  # what a preview says would be dropped (None: cannot tell)
        self.lints: list[str] = []
        self.findings: list[Any] = []  # what `%migrate lint` says of the upgrade
        self.blocking = False  # whether the project's lint policy would refuse it

    def build(self) -> tuple[RevisionGraph, str]:
        self.builds += 1
        graph = RevisionGraph.from_script_directory(self.script, current=self.current)
        return graph, render_svg(graph.to_dot())

    def run(self, line: str) -> Any:
        if line.startswith("lint "):  # what the widget asks before an upgrade: the findings set below
            self.lints.append(line)
            return Lint(self.findings, self.blocking)
        self.lines.append(line)
        if self.fail_with is not None:
            raise self.fail_with
        verb, target, *preview = line.split()
        if preview:  # `upgrade X --preview`: what the run would drop, nothing moved
            return Result(line, data_loss=self.data_loss)
        self.current = (target,)  # what the database would now record
        return Result(line)

    def widget(self, **kwargs: Any) -> GraphWidget:
        return GraphWidget(self.build, self.run, **kwargs)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def send(widget: GraphWidget, content: dict[str, Any]) -> None:
    """Deliver a front-end ``model.send(content)`` as the kernel does: a comm message to the widget's comm."""
    data = {"method": "custom", "content": content}
    widget.comm.handle_msg({"content": {"comm_id": widget.comm.comm_id, "data": data}, "buffers": []})


def test_initial_state(harness: Harness) -> None:
    w = harness.widget()
    assert harness.builds == 1
    assert w.svg.startswith("<svg") and all(f"rev&#45;{r}" in w.svg for r in IDS)
    assert [r["id"] for r in w.revisions] == ["0003", "0002", "0001"]  # newest first
    assert [r["state"] for r in w.revisions] == ["pending", "pending", "current"]
    assert w.revisions[0]["label"] == "0003 add phone"
    assert "current" in w.legend_html and "depends_on" in w.legend_html
    assert w.summary.startswith("Revision graph: 3 revisions")
    assert w.selected == "" and w.details == {} and w.error == "" and not w.busy
    assert w._esm.strip().endswith("export default { render };")
    assert ".nbm-gw" in w._css


def test_selecting_shows_details_with_source(harness: Harness) -> None:
    w = harness.widget()
    w.selected = "0002"  # what a click on node rev-0002 does in the browser
    d = w.details
    assert d["id"] == "0002" and d["message"] == "add email" and d["state"] == "pending"
    assert d["path"].endswith("0002_add_email.py")
    assert "Revision ID: 0002" in d["doc"]
    assert 'op.create_table("t_0002"' in d["upgrade"]
    assert 'op.drop_table("t_0002")' in d["downgrade"]
    w.select("0001")
    assert w.details["id"] == "0001" and w.details["state"] == "current"
    w.select("")
    assert w.details == {}


def test_upgrade_runs_at_once_and_shows_its_line(harness: Harness) -> None:
    w = harness.widget()
    w.select("0003")
    send(w, {"action": "upgrade", "rev": "0003"})
    assert harness.lines == ["upgrade 0003 --preview", "upgrade 0003"]  # the preview found no data lost
    assert w.pending_line == "%migrate upgrade 0003"
    assert not w.needs_confirm
    assert w.result_html == "<div class='fake-result'>upgrade 0003</div>"
    assert harness.builds == 2  # redrawn
    assert w.details["state"] == "current"  # details follow the new state
    assert w.error == "" and not w.busy


@pytest.mark.parametrize(
    ("loss", "warning"),
    [
        (["column `t.x` dropped, 2 of 3 rows had values"], "This upgrade drops data: column `t.x` dropped, 2 of 3 rows had values. Run it?"),
        (None, "This upgrade could not be previewed here, so whether it loses data is unknown. Run it?"),
    ],
)
def test_an_upgrade_that_may_lose_data_asks_first(harness: Harness, loss: list[str] | None, warning: str) -> None:
    harness.data_loss = loss
    w = harness.widget()
    send(w, {"action": "upgrade", "rev": "0003"})
    assert harness.lines == ["upgrade 0003 --preview"] and harness.current == ("0001",)
    assert w.needs_confirm and w.pending_line == "%migrate upgrade 0003" and w.warning == warning
    send(w, {"action": "confirm"})
    assert harness.lines[-1] == "upgrade 0003" and harness.current == ("0003",)
    assert not w.needs_confirm and w.warning == ""


def test_downgrade_asks_first_and_cancel_runs_nothing(harness: Harness) -> None:
    harness.current = ("0003",)
    w = harness.widget()
    send(w, {"action": "downgrade", "rev": "0001"})
    assert w.needs_confirm and w.pending_line == "%migrate downgrade 0001"
    assert harness.lines == []
    send(w, {"action": "cancel"})
    assert not w.needs_confirm and w.pending_line == ""
    assert harness.lines == [] and harness.builds == 1
    send(w, {"action": "confirm"})  # nothing is waiting any more
    assert harness.lines == []


def test_confirm_runs_the_downgrade_and_redraws(harness: Harness) -> None:
    harness.current = ("0003",)
    w = harness.widget()
    before = w.svg
    w.downgrade_to("0001")
    assert harness.lines == [] and harness.builds == 1
    w.confirm()
    assert harness.lines == ["downgrade 0001"]
    assert harness.builds == 2
    assert w.svg != before
    assert [r["state"] for r in w.revisions] == ["pending", "pending", "current"]
    assert not w.needs_confirm
    assert "downgrade 0001" in w.result_html


def test_error_in_run_lands_in_the_widget(harness: Harness) -> None:
    w = harness.widget()
    harness.fail_with = RuntimeError("relation t_0002 already exists")
    w.upgrade_to("0002")
    assert w.error == "RuntimeError: relation t_0002 already exists"
    assert not w.busy and w.result_html == ""
    assert harness.builds == 2  # the state after a failure is drawn too

    harness.fail_with = UsageError("Destination 0001 is not a valid upgrade target")
    w.upgrade_to("0001")
    assert w.error == "Destination 0001 is not a valid upgrade target"  # a UsageError is just its message

    harness.fail_with = None
    w.upgrade_to("0002")
    assert w.error == ""


def test_errors_never_show_passwords(harness: Harness) -> None:
    w = harness.widget()
    harness.fail_with = RuntimeError("cannot connect to postgresql://alice:s3cret@db.example/app")
    w.upgrade_to("0002")
    assert "s3cret" not in w.error and "postgresql://alice:***@db.example/app" in w.error


def test_error_in_build_lands_in_the_widget() -> None:
    def build() -> tuple[RevisionGraph, str]:
        raise UsageError("No Alembic project found: run %migrate init")

    w = GraphWidget(build, lambda line: None)
    assert w.error == "No Alembic project found: run %migrate init"
    data, _ = w._repr_mimebundle_()
    assert "No Alembic project found" in data["text/plain"]


def test_unknown_front_end_message_is_reported(harness: Harness) -> None:
    w = harness.widget()
    send(w, {"action": "drop-everything"})
    assert "unknown widget request" in w.error and harness.lines == []
    send(w, {"action": "upgrade"})  # no revision
    assert harness.lines == []


def test_mimebundle_has_static_svg_for_saved_notebooks(harness: Harness) -> None:
    w = harness.widget()
    data, metadata = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    html = data["text/html"]
    assert "<svg" in html and "</svg>" in html
    for rid in IDS:
        assert rid in html
        assert rid in data["text/plain"]
    assert "<script" not in html
    assert isinstance(metadata, dict)


def test_notebook_display_puts_a_static_copy_before_the_widget(harness: Harness, shell: Any) -> None:
    """A notebook saved with widget state exports the widget view alone: the SVG must stand apart."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    w = harness.widget()
    with capture_output() as captured:  # a kernel-like publisher: outputs are kept, not printed
        display(w)
    static, live = (output.data for output in captured.outputs)
    assert set(static) == {"text/html"}
    assert 'class="nbm nbm-graph nbm-graph-static"' in static["text/html"]
    for rid in IDS:
        assert f'id="rev&#45;{rid}"' in static["text/html"]  # graphviz escapes the dash
    assert live["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    assert "text/html" not in live  # GitHub would show the graph twice
    assert live["text/plain"] == ""  # an export without widget state shows the copy, not a line under it


def test_terminal_display_is_the_text_listing(harness: Harness, shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.display import display

    w = harness.widget()
    display(w)
    out = capsys.readouterr().out
    assert out.startswith("Revision graph: 3 revisions") and "<svg" not in out and "widget-view" not in out


def test_collapsed_run_can_be_expanded(harness: Harness) -> None:
    chain = [Revision("r0", None)] + [Revision(f"r{i}", f"r{i - 1}") for i in range(1, 7)]
    calls: list[frozenset[str]] = []

    def build(expand: frozenset[str] = frozenset()) -> tuple[RevisionGraph, str]:
        calls.append(expand)
        graph = RevisionGraph.from_revisions(chain, current=["r6"], collapse=2, expand=expand)
        return graph, render_svg(graph.to_dot())

    w = GraphWidget(build, harness.run)
    assert w.can_expand
    assert 'id="run&#45;r1"' in w.svg and "rev&#45;r3" not in w.svg
    send(w, {"action": "expand", "rev": "r1"})  # a click on the run's node
    assert calls[-1] == frozenset({"r1"})
    assert "run&#45;r1" not in w.svg and "rev&#45;r3" in w.svg


def test_plain_build_cannot_expand(harness: Harness) -> None:
    w = harness.widget()
    assert not w.can_expand
    w.expand("0002")
    assert harness.builds == 1


def test_actions_are_ignored_while_busy(harness: Harness) -> None:
    w = harness.widget()
    w.busy = True
    w.upgrade_to("0002")
    assert harness.lines == []


# -- the front end in a real browser ------------------------------------------------------------

SYNCED = tuple(GraphWidget.class_own_traits(sync=True))  # what the widget's front end reads

# A stand-in for anywidget's model in the page: traits, change events, messages to the kernel.
PAGE = """<!doctype html><meta charset="utf-8"><style>%(css)s</style><div id="root"></div>
<script type="module">
const state = %(state)s;
const listeners = {};
window.sent = [];
window.saved = [];
const model = {
  get: (key) => state[key],
  set: (key, value) => { state[key] = value; (listeners["change:" + key] || []).forEach((f) => f()); },
  save_changes: () => window.saved.push({ selected: state.selected }),
  on: (event, fn) => { (listeners[event] ||= []).push(fn); },
  off: (event, fn) => { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  send: (content) => window.sent.push(content),
};
window.model = model;
const url = URL.createObjectURL(new Blob([%(esm)s], { type: "text/javascript" }));
const widget = (await import(url)).default;
widget.render({ model, el: document.getElementById("root") });
window.ready = true;
</script>"""


@pytest.mark.browser
def test_front_end_in_a_real_browser(harness: Harness) -> None:
    import json

    from browser_support import chromium, require_browser

    require_browser()
    harness.current = ("0002",)
    w = harness.widget()

    def push(page: Any) -> None:
        # kernel -> browser: what ipywidgets' comm does after every change
        for name in SYNCED:
            page.evaluate("([k, v]) => window.model.set(k, v)", [name, getattr(w, name)])

    def pump(page: Any) -> None:
        # browser -> kernel: saved trait changes and custom messages
        for saved in page.evaluate("window.saved.splice(0)"):
            w.selected = saved["selected"]
        for content in page.evaluate("window.sent.splice(0)"):
            send(w, content)
        push(page)

    state = {name: getattr(w, name) for name in SYNCED}
    html = PAGE % {"css": w._css, "state": json.dumps(state), "esm": json.dumps(w._esm)}
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_content(html)
        page.wait_for_function("window.ready === true")

        # the graph is drawn and every revision is a clickable node
        for rid in IDS:
            assert page.locator(f'[id="rev-{rid}"]').count() == 1
        page.click('[id="rev-0003"]')
        pump(page)
        assert w.selected == "0003"
        assert page.locator(".nbm-gw-selected").get_attribute("id") == "rev-0003"
        details = page.locator(".nbm-gw-details").inner_text()
        assert "add phone" in details and 'op.create_table("t_0003"' in details
        assert 'op.drop_table("t_0003")' in details
        assert page.locator(".nbm-gw-select").input_value() == "0003"

        # a pending revision can be upgraded to, not downgraded to
        upgrade = page.get_by_role("button", name="Upgrade to here")
        downgrade = page.get_by_role("button", name="Downgrade to here")
        assert upgrade.is_enabled() and not downgrade.is_enabled()
        upgrade.click()
        pump(page)
        assert harness.lines == ["upgrade 0003 --preview", "upgrade 0003"]  # previewed: no data lost
        assert "%migrate upgrade 0003" in page.locator(".nbm-gw-pending").inner_text()
        assert "upgrade 0003" in page.locator(".nbm-gw-result").inner_text()

        # the selector is the other way to choose; downgrade asks before it runs
        page.select_option(".nbm-gw-select", "0001")
        pump(page)
        assert w.selected == "0001"
        page.get_by_role("button", name="Downgrade to here").click()
        pump(page)
        assert w.needs_confirm and harness.lines[-1] == "upgrade 0003"
        assert "can lose data" in page.locator(".nbm-gw-pending").inner_text()
        page.get_by_role("button", name="Cancel").click()
        pump(page)
        assert not w.needs_confirm and harness.lines[-1] == "upgrade 0003"
        page.get_by_role("button", name="Downgrade to here").click()
        pump(page)
        page.get_by_role("button", name="Confirm").click()
        pump(page)
        assert harness.lines[-2:] == ["upgrade 0003", "downgrade 0001"]

        # errors show in the widget, not only in the console
        harness.fail_with = RuntimeError("boom")
        page.select_option(".nbm-gw-select", "0003")
        pump(page)
        page.get_by_role("button", name="Upgrade to here").click()
        pump(page)
        assert page.locator(".nbm-gw-error").inner_text() == "RuntimeError: boom"
        assert page.locator(".nbm-gw-error").is_visible()
        assert errors == []
        browser.close()


def test_an_upgrade_with_risky_steps_names_them_and_waits(harness: Harness) -> None:
    from types import SimpleNamespace

    harness.findings = [
        SimpleNamespace(code="NBM108", name="dropping-column", revision="0003", message="drops user.phone",
                        severity="error", allowed=False),
        SimpleNamespace(code="NBM601", name="prefer-bigint-primary-key", revision="0002", message="id is INTEGER",
                        severity="info", allowed=False),
    ]
    w = harness.widget()
    send(w, {"action": "upgrade", "rev": "0003"})
    assert harness.lints == ["lint 0003"] and harness.current == ("0001",)
    assert w.needs_confirm and w.pending_line == "%migrate upgrade 0003"
    assert w.warning == "Risky steps: NBM108 dropping-column in 0003: drops user.phone. Run it?"  # an info is no risk
    harness.blocking = True  # the project's policy refuses it: confirming accepts the risk
    send(w, {"action": "upgrade", "rev": "0003"})
    assert w.pending_line == "%migrate upgrade 0003 --accept-risk"
    send(w, {"action": "confirm"})
    assert harness.lines[-1] == "upgrade 0003 --accept-risk"
