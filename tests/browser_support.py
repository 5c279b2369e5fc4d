"""Helpers for the end-to-end browser tests: a real JupyterLab server and Debian's Chromium.

The server runs on 127.0.0.1 on a free port, in a temporary root folder, with a random token that
never appears in a URL, a log line, an assertion message or an artifact: the browser sends it in an
``Authorization`` header and the server's log is redacted before anything quotes it. User
configuration is isolated (``JUPYTER_CONFIG_DIR``/``JUPYTER_DATA_DIR``/``JUPYTER_RUNTIME_DIR``/
``IPYTHONDIR`` under the test's temporary folder) while ``sys.prefix``'s lab extensions (ipywidgets'
manager, anywidget) stay discoverable. Nothing reaches the network: no update check, no news, and
the browser aborts every request that is not for the local server or a local file.

Chromium is never downloaded (no ``playwright install``): Playwright drives ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts" / "browser"

CHROMIUM = os.environ.get("NBMIGRATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_ENV = "NBMIGRATE_REQUIRE_BROWSER"

# Bounded waits (milliseconds for Playwright, seconds for the server).
SERVER_START_S = 90
PAGE_MS = 60_000  # JupyterLab loading, a notebook opening, a kernel starting
RUN_MS = 120_000  # a whole notebook running
CELL_MS = 60_000  # one cell running
WIDGET_MS = 30_000  # a widget drawing or redrawing


# -- prerequisites -------------------------------------------------------------------------------


def require_browser() -> None:
    """Skip (or fail, when ``NBMIGRATE_REQUIRE_BROWSER`` is set) without Chromium or Playwright."""
    problems = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"Chromium not found at {CHROMIUM}")
    for module in ("playwright.sync_api", "jupyterlab", "nbconvert"):
        try:
            __import__(module)
        except ImportError as exc:
            problems.append(f"cannot import {module} ({exc})")
    if not problems:
        return
    reason = "; ".join(problems)
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}, but {REQUIRE_ENV} is set", pytrace=False)
    pytest.skip(f"browser tests need a local Chromium and Playwright: {reason}")


# -- the secret token ----------------------------------------------------------------------------


class Secret:
    """A value that never shows in a repr (tracebacks with locals, assertion rewriting)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        return text.replace(self._value, "<token>")

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the JupyterLab server -----------------------------------------------------------------------

LAB_SETTINGS = {
    # every cell stays in the DOM, so locators see the whole notebook
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news toast, no update check (both would also try the network)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class JupyterLab:
    """A JupyterLab server in a temporary root folder; :meth:`stop` ends it and its kernels."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.tmp = (
            self.root / "tmp"
        )  # the kernel's TMPDIR: the tutorial's scratch folder lands here
        self.home = base / "jupyter"
        for path in (self.root, self.tmp, self.home):
            path.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = Secret(secrets.token_urlsafe(32))
        self.log_path = base / "jupyterlab.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # environment ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in (
            "JUPYTER_TOKEN",
            "JUPYTER_PASSWORD",
            "JUPYTER_PATH",
            "JUPYTERLAB_DIR",
        ):
            env.pop(name, None)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.home / "config" / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "config" / "lab" / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            TMPDIR=str(self.tmp),
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
        )
        return env

    def _write_settings(self) -> None:
        settings = self.home / "config" / "lab" / "user-settings"
        for rel, value in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        for name in ("data", "runtime", "ipython"):
            (self.home / name).mkdir(parents=True, exist_ok=True)

    # life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._write_settings()
        log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterlab",
                    "--no-browser",
                    "--ServerApp.open_browser=False",
                    "--ServerApp.ip=127.0.0.1",
                    f"--ServerApp.port={self.port}",
                    "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={self.root}",
                    f"--IdentityProvider.token={self.token.reveal()}",
                    "--ServerApp.password=",
                    "--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                    "--ServerApp.shutdown_no_activity_timeout=900",
                    "--MappingKernelManager.cull_idle_timeout=0",
                    "--LabApp.extension_manager=readonly",  # the "pypi" manager would query PyPI
                    *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                ],
                cwd=self.root,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kernels included in stop()
            )
        finally:
            log.close()
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                status = self.api("GET", "/api/status", timeout=2)
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
                continue
            if isinstance(status, dict) and "started" in status:
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer within {SERVER_START_S}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:  # the clean way: the server shuts its kernels down
            self.api("POST", "/api/shutdown", timeout=5)
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001, S110 - fall through to signals
            pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)  # the group this fixture created, nothing else
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
        # kernels left in the group (if the server died first)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # HTTP ----------------------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token.reveal()}"}

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self.headers
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return self.token.redact("\n".join(text.splitlines()[-lines:]))


@contextmanager
def jupyterlab(base: Path) -> Iterator[JupyterLab]:
    server = JupyterLab(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        # the log is worth keeping, with the token blanked out (it should not be there at all)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if server.log_path.exists():
            (ARTIFACTS / "jupyterlab.log").write_text(
                server.token.redact(server.log_path.read_text(errors="replace"))
            )


# -- the browser ---------------------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline(context: Any, *allowed_prefixes: str) -> None:
    """Abort every request that does not start with one of ``allowed_prefixes``."""
    allowed = tuple(allowed_prefixes)

    def handle(route: Any) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            route.abort()

    context.route(re.compile(r"^(https?|wss?|ftp)://"), handle)


class PageErrors:
    """Uncaught exceptions and console errors of a page, for failure messages."""

    def __init__(self, page: Any, redact: Secret | None = None) -> None:
        self.items: list[str] = []
        self._redact = redact
        page.on("pageerror", lambda exc: self._add(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self._add(f"console.{msg.type}: {msg.text}")
                if msg.type in ("error", "warning")
                else None
            ),
        )

    def _add(self, text: str) -> None:
        self.items.append(self._redact.redact(text) if self._redact else text)

    def __str__(self) -> str:
        return "\n".join(self.items[-30:]) or "(none)"


def shot(target: Any, name: str, **kwargs: Any) -> Path:
    """Save a screenshot of a page or locator as ``artifacts/browser/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path), **kwargs)
    return path


# -- JupyterLab in the page ----------------------------------------------------------------------

CODE_CELLS = ".jp-Notebook .jp-Cell.jp-CodeCell"
PROMPT_RUN = re.compile(r"^\[\d+\]:$")


class Notebook:
    """One open notebook in JupyterLab: run it, add cells, read outputs."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.name = name
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").filter(
            has=page.locator(".jp-Notebook")
        )

    # kernel --------------------------------------------------------------------------------

    def wait_idle(self, timeout: float = RUN_MS) -> None:
        """Wait until the notebook's kernel is connected and idle."""
        self.page.wait_for_function(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                if (!panel) return false;
                const name = panel.querySelector('.jp-Toolbar-kernelName');
                const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                return !!name && !!state && !/No Kernel/.test(name.textContent)
                  && state.getAttribute('data-status') === 'idle';
            }""",
            timeout=timeout,
        )

    def wait_all_executed(self, timeout: float = RUN_MS) -> None:
        """Wait until every code cell shows an execution count and the kernel is idle."""
        self.page.wait_for_function(
            """(sel) => {
                const cells = [...document.querySelectorAll(sel)];
                return cells.length > 0 && cells.every((c) => {
                  const p = c.querySelector('.jp-InputArea-prompt');
                  return p && /^\\[\\d+\\]:$/.test(p.textContent.trim());
                });
            }""",
            arg=CODE_CELLS,
            timeout=timeout,
        )
        self.wait_idle(timeout)

    def run_all(self) -> None:
        """Run → Run All Cells from the menu bar (a fresh kernel: nothing to restart)."""
        page = self.page
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def restart_and_run_all(self) -> None:
        """Kernel → Restart Kernel and Run All Cells…, confirmed."""
        page = self.page
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
        page.locator(
            ".lm-Menu-itemLabel",
            has_text=re.compile(r"^Restart Kernel and Run All Cells"),
        ).click()
        page.locator(".jp-Dialog button.jp-mod-accept").click()
        page.locator(".jp-Dialog").wait_for(state="detached")

    # cells ---------------------------------------------------------------------------------

    def cells(self) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell")

    def code_cell(self, index: int) -> Any:
        """The ``index``-th code cell (negative counts from the end)."""
        cells = self.page.locator(CODE_CELLS)
        return cells.nth(index) if index >= 0 else cells.nth(cells.count() + index)

    def code_cell_with(self, source: str) -> Any:
        """The code cell whose source starts with ``source``."""
        return self.page.locator(CODE_CELLS).filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=source)
        )

    def append_and_run(self, source: str, timeout: float = CELL_MS) -> Any:
        """Add a code cell at the end, paste ``source`` into it, run it; returns the cell."""
        page = self.page
        before = page.locator(CODE_CELLS).count()
        last = self.cells().last
        last.scroll_into_view_if_needed()
        # a click on the prompt selects the cell without entering its editor
        last.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # insert a code cell below, in command mode
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length === n + 1",
            arg=[CODE_CELLS, before],
            timeout=10_000,
        )
        cell = page.locator(CODE_CELLS).nth(before)
        cell.locator(".cm-content").click()
        # insert_text is a paste: no auto-indent, no auto-closed brackets
        page.keyboard.insert_text(source)
        editor_text = "\n".join(cell.locator(".cm-content .cm-line").all_text_contents())
        assert editor_text.strip() == source.strip(), f"the editor holds {editor_text!r}"
        page.keyboard.press("Control+Enter")  # run in place
        prompt = cell.locator(".jp-InputArea-prompt")
        page.wait_for_function(
            "(el) => /^\\[\\d+\\]:$/.test(el.textContent.trim())",
            arg=prompt.element_handle(),
            timeout=timeout,
        )
        self.wait_idle(timeout)
        return cell

    def save(self) -> None:
        """Save (Ctrl+S) and wait until the document is no longer dirty."""
        page = self.page
        self.cells().first.locator(".jp-InputPrompt, .jp-InputCollapser").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        page.wait_for_function(
            """() => {
                const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
                return tab && !tab.classList.contains('jp-mod-dirty');
            }""",
            timeout=30_000,
        )


def output_text(cell: Any) -> str:
    """All text of a cell's outputs."""
    area = cell.locator(".jp-OutputArea")
    return area.inner_text() if area.count() else ""


def stderr_outputs(scope: Any) -> list[str]:
    """Texts of the stderr/error outputs under ``scope``."""
    loc = scope.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    return [loc.nth(i).inner_text() for i in range(loc.count())]


def run_quiet(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run a command, return its output; fail with it (redacted by the caller) on error."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{argv[:4]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr
