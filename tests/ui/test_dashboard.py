"""The dashboard in a real browser (Debian's chromium through Playwright) against a real
``modelyard ui`` process over a project filled by real training, serving and a loop cycle.

Every page must load without a console error and without asking any host but 127.0.0.1
for anything (no CDN); filtering runs, comparing runs and promoting a version work by
clicking. Screenshots land in tests/ui/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

import modelyard

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class Tab:
    """A browser page that records console errors, page errors and off-machine requests."""

    def __init__(self, browser: Any, filled: Any, shots: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.base = filled.ui_url
        self.shots = shots
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: d.accept())

        def route(r: Any) -> None:
            host = urlparse(r.request.url).hostname
            if host not in ("127.0.0.1", "localhost") and not r.request.url.startswith(
                    ("data:", "blob:")):
                self.foreign.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        self.page.route("**/*", route)

    def sign_in(self, key: str) -> None:
        self.page.goto(f"{self.base}/login")
        self.page.fill('input[name="key"]', key)
        self.page.click('button[type="submit"]')
        self.page.wait_for_url(re.compile(r".*/runs.*"))

    def go(self, path: str) -> Any:
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, (path, response)
        return response

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def text(self, selector: str = "main") -> str:
        return str(self.page.inner_text(selector))

    def close(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.foreign, f"requests off this machine: {self.foreign}"
        self.context.close()


@pytest.fixture
def tab(browser: Any, filled: Any, shots: Path) -> Iterator[Tab]:
    t = Tab(browser, filled, shots)
    yield t
    t.close()


def test_keys_guard_pages_and_api(filled: Any, tab: Tab) -> None:
    assert httpx.get(f"{filled.ui_url}/api/runs").status_code == 401
    assert httpx.get(f"{filled.ui_url}/api/runs", headers={
        "authorization": f"Bearer {filled.read_key}"}).status_code == 200
    moved = httpx.post(f"{filled.ui_url}/api/models/fraud/aliases", json={"version": 1},
                       headers={"authorization": f"Bearer {filled.read_key}"})
    assert moved.status_code == 401 and "admin" in moved.json()["detail"]
    tab.page.goto(f"{filled.ui_url}/runs")
    assert "/login" in tab.page.url  # sent to sign in
    tab.page.fill('input[name="key"]', "my_nope_nope")
    tab.page.click('button[type="submit"]')
    assert "not valid" in tab.text()
    tab.errors.clear()  # the browser logs the 401 of the refused sign-in itself
    tab.sign_in(filled.read_key)
    assert "read key" in tab.text("header")


def test_every_page_loads_and_shows_its_content(filled: Any, tab: Tab) -> None:
    tab.sign_in(filled.read_key)
    expected = {
        "/runs": ["fraud", "curves", "sgd-fast", "3 trials"],
        f"/runs/{filled.study_run}": ["Trials", "trial-0", "primary_metric", "Environment"],
        f"/runs/{filled.curve_runs[0]}": ["Metric curves", "loss", "lr", "Tags", "risk"],
        "/datasets": ["tx"],
        "/datasets/tx": ["tx@2", "tx@1", "Schema of tx@2", "x0", "Validation"],
        "/models": ["fraud", "champion"],
        "/models/fraud": ["v3", "tx@2", "Alias history", "loop cycle"],
        "/serving": ["fraud", "requests per second", "latency percentiles"],
        "/monitoring": ["fraud"],
        "/models/fraud/monitor": ["Alerts", "feature_psi", "x2", "resolved", "PSI per feature",
                                  "quality on delayed labels", "label coverage"],
        "/loop": ["fraud", "promoted"],
        "/models/fraud/loop": ["trigger", "retrain.finished", "gate.passed", "promoted",
                               "challenger_score"],
    }
    for path, words in expected.items():
        tab.go(path)
        text = tab.page.inner_text("body")
        for word in words:
            assert word in text, (path, word)
        tab.shot(path.strip("/").replace("/", "_") or "home")
    # the curves are drawn: one polyline per metric, the study as parallel coordinates
    tab.go(f"/runs/{filled.curve_runs[0]}")
    assert tab.page.locator("#curves polyline.series").count() == 2
    tab.go(f"/runs/{filled.study_run}")
    assert tab.page.locator("#study polyline.trial").count() == 3
    # the drifted feature's histogram has bars, axis labels and a legend
    tab.go("/models/fraud/monitor")
    figure = tab.page.locator('#histograms figure[data-feature="x2"]')
    assert figure.locator("rect").count() > 10
    assert "share of rows" in figure.inner_text() and "reference" in figure.inner_text()
    # serving charts come from the server's own metrics
    tab.go("/serving")
    assert tab.page.locator("section.serving polyline.series").count() >= 2
    # /docs is Swagger UI from the installed package, drawn without the internet
    tab.go("/docs")
    tab.page.wait_for_selector(".swagger-ui .opblock", timeout=10_000)
    tab.shot("docs")


def test_filter_sort_and_nest_runs_by_clicking(filled: Any, tab: Tab) -> None:
    tab.sign_in(filled.read_key)
    tab.go("/runs")
    # trials are nested under their parent, hidden until opened
    trials = tab.page.locator(f"tr.child-of-{filled.study_run}")
    assert trials.count() == 3 and not trials.first.is_visible()
    tab.page.click(f'button.toggle[data-parent="{filled.study_run}"]')
    assert trials.first.is_visible()
    tab.page.fill("#filter", "params.lr > 0.1 and tags.team = risk")
    tab.page.click("#apply")
    tab.page.wait_for_url(re.compile(r".*filter=.*"))
    names = tab.page.locator("#runs-table tbody td.name a").all_inner_texts()
    assert names == ["sgd-fast"]
    assert "1 run" in tab.text("#run-count")
    # every run of the experiment, sorted by clicking the loss column twice (desc, asc)
    tab.page.fill("#filter", "")
    tab.page.select_option('select[name="experiment"]', "curves")
    tab.page.click("#apply")
    tab.page.wait_for_url(re.compile(r".*experiment=curves.*"))
    tab.page.click('th.sortable a:text-is("loss")')
    tab.page.wait_for_url(re.compile(r".*sort=metrics.loss.*"))
    tab.page.click('th.sortable a:has-text("loss")')
    tab.page.wait_for_url(re.compile(r".*order=asc.*"))
    names = tab.page.locator("#runs-table tbody td.name a").all_inner_texts()
    assert names == ["sgd-fast", "sgd-slow"]  # the faster learner ends with less loss
    tab.shot("runs_filtered")
    # a bad filter says what to write, on the page
    tab.page.fill("#filter", "metrics.loss > low")
    tab.page.click("#apply")
    tab.page.wait_for_load_state()
    assert "not a number" in tab.text()
    tab.errors.clear()  # the 422 answer of the bad filter is logged by the browser


def test_compare_runs_by_clicking(filled: Any, tab: Tab) -> None:
    tab.sign_in(filled.read_key)
    tab.go("/runs?experiment=curves")
    assert tab.page.is_disabled("#compare")
    for run_id in filled.curve_runs:
        tab.page.check(f'tr[data-run="{run_id}"] input[name="ids"]')
    assert tab.page.is_enabled("#compare")
    tab.page.click("#compare")
    tab.page.wait_for_url(re.compile(r".*/compare\?.*"))
    text = tab.text()
    assert "sgd-fast" in text and "sgd-slow" in text and "Compare 2 runs" in text
    loss = tab.page.locator('#curves figure[data-metric="loss"] polyline.series')
    assert loss.count() == 2  # both runs' curves overlaid
    assert tab.page.locator("tr.differs th:text-is('lr')").count() == 1
    tab.shot("compare")


def test_promote_and_roll_back_by_clicking(filled: Any, tab: Tab) -> None:
    tab.sign_in(filled.read_key)
    tab.go("/models/fraud")
    assert tab.page.locator("button.promote").count() == 0  # a read key changes nothing
    tab.sign_in(filled.admin_key)
    tab.go("/models/fraud")
    tab.page.fill("#reason", "v1 for the browser test")
    tab.page.click('tr[data-version="1"] button.promote')
    tab.page.wait_for_selector('tr[data-version="1"] .alias:text-is("champion")')
    with modelyard.open(filled.project) as yard:
        assert yard.models.get("fraud@champion").version == 1
        last = yard.models.alias_history("fraud", "champion")[-1]
        assert last.reason.startswith("v1 for the browser test") and "by key" in last.reason
    tab.shot("model_promoted")
    tab.page.fill("#reason", "")
    tab.page.click("#rollback")
    tab.page.wait_for_selector('tr[data-version="3"] .alias:text-is("champion")')
    with modelyard.open(filled.project) as yard:
        assert yard.models.get("fraud@champion").version == 3
        assert "rolled back in the dashboard" in \
            yard.models.alias_history("fraud", "champion")[-1].reason
