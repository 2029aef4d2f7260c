"""Browser tests of the admin UI: Playwright (pytest-playwright) drives Debian's chromium against one
``rmm-alerts dev`` started for the whole session (its own database on the session's PostgreSQL server,
reached as the application role through the session's PgBouncer).

Never downloads a browser: ``executable_path`` is the system chromium (scripts/bootstrap installs it
with apt-get when it is missing and you are root)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.databases import cloned
from tests.support.devproc import REPO, free_port, pooled_env, start, stop

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = REPO / "ui" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}


@dataclass(frozen=True)
class Dev:
    base: str
    home: Path
    creds: dict[str, Any]

    @property
    def admin(self) -> str:
        return str(self.creds["admin_token"])

    @property
    def reader(self) -> str:
        return str(self.creds["reader_token"])

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return httpx.request(method, self.base + path, json=body, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def dev(
    pg_admin_url: str, template_db: str, app_url_for: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dev]:
    assert (REPO / "ui" / "dist" / "index.html").is_file(), "ui/dist is not built: run scripts/bootstrap"
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run scripts/bootstrap as root (apt-get install chromium)"
    home = tmp_path_factory.mktemp("dev-home")
    port = free_port()
    # Its own database, as the application role through the session's PgBouncer (as in AWS).
    with cloned(pg_admin_url, template_db, prefix="rmm_browser") as admin_url:
        proc, _ = start(home, port, pooled_env(app_url_for(admin_url), admin_url))
        try:
            creds = json.loads((home / "dev-credentials.json").read_text())
            yield Dev(f"http://127.0.0.1:{port}", home, creds)
        finally:
            output = stop(proc)
            shutil.rmtree(home, ignore_errors=True)
        # Nothing the UI did broke a function behind the pooler (a session-state or privilege
        # error would show here even where the UI only displays a generic failure). A browser
        # resetting a keep-alive connection makes http.server print a traceback: not ours.
        broken = [line for line in output if " 500 " in line or "psycopg" in line]
        assert not broken, "\n".join(output)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": VIEWPORT,
        "permissions": ["clipboard-read", "clipboard-write"],
        "locale": "en-GB",
        "timezone_id": "Europe/Amsterdam",
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test also reports where the page was and what it showed: CI keeps only the
    text output, and "waiting for get_by_label(...)" alone does not say which page was on screen."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    page = getattr(item, "funcargs", {}).get("page")
    if report.when != "call" or not report.failed or page is None:
        return
    try:
        shown = f"{page.url}\n{page.locator('body').inner_text(timeout=2_000)[:3_000]}"
    except Exception as exc:  # a closed or crashed page: say so instead of hiding the test's own error
        shown = f"(could not read the page: {exc})"
    report.sections.append(("what the page showed", shown))


def sign_in(page: Page, dev: Dev, token: str | None = None, route: str = "#/integrations") -> None:
    """Open the UI with ``#token=`` (as `rmm-alerts dev` prints it), then go to ``route``.

    From a blank page: on a page already showing the UI, ``#token=`` is only a hash change that the
    app answers with a reload, which the checks below could race (they would pass on the old page)."""
    page.goto("about:blank")
    page.goto(f"{dev.base}/#token={token or dev.admin}")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert "token=" not in page.url  # read, then dropped from the address bar
    if route != "#/integrations":
        open_route(page, dev, route)


def open_route(page: Page, dev: Dev, route: str) -> None:
    """Go to ``route`` (``#/...``) in the signed-in app and wait until the app shows it: ``goto``
    returns once the address has changed, before the app has redrawn, and the old page's heading
    would satisfy the next check."""
    page.goto(f"{dev.base}/{route}")
    expect(page.locator("main#main")).to_have_attribute("data-route", route.removeprefix("#/"))


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious or critical axe-core findings on the current page (axe injected from node_modules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the UI's CSP (script-src 'self') stays in force.
        page.evaluate(AXE.read_text() + "\n;undefined")
    results: dict[str, Any] = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    assert results["passes"], "axe-core ran no check"
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
