"""A run with tens of thousands of metric points: the run page draws each long curve from at
most 1,000 points that keep its shape (a one-step spike survives) and says so, and every
point stays a download away (CSV) or an API call away (JSON). A real ``modelyard ui``
process on 127.0.0.1 and Debian's chromium through Playwright."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import modelyard
from _serving import dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("MODELYARD_TEST_CHROMIUM", "/usr/bin/chromium")
STEPS, SPIKE_STEP, SPIKE = 5_000, 3_210, 5.0


def _loss(step: int) -> float:
    return SPIKE if step == SPIKE_STEP else 1.0 / (1.0 + step)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The dashboard's URL and the id of a run with a 5,000-step loss and a short curve."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"no chromium at {CHROMIUM}: run `bash scripts/browser.sh` as root")
        pytest.skip(f"no chromium at {CHROMIUM}")
    project = tmp_path_factory.mktemp("long-curves")
    with modelyard.open(project) as yard, yard.run("long", experiment="curves") as run:
        for step in range(STEPS):
            run.log_metric("loss", _loss(step), step=step)
        for step in range(50):
            run.log_metric("short", step / 50, step=step)
        run_id = run.id
    with dashboard(project) as url:
        yield url, run_id


def _coords(points: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.split())]


def test_the_run_page_draws_a_downsampled_curve_and_says_so(long_run: tuple[str, str]
                                                            ) -> None:
    from playwright.sync_api import sync_playwright

    url, run_id = long_run
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            response = page.goto(f"{url}/runs/{run_id}", timeout=60_000)
            assert response is not None and response.status == 200
            loss = page.locator('#curves figure[data-metric="loss"]')
            shown = int(str(loss.get_attribute("data-shown")))
            assert 900 <= shown <= 1000
            caption = loss.locator("figcaption").inner_text()
            assert f"showing {shown:,} of {STEPS:,} points" in caption
            points = _coords(str(loss.locator("polyline.series").get_attribute("points")))
            assert len(points) == shown
            # the spike is drawn: the highest point (smallest y) sits at its step
            left, width = 64, 520 - 64 - 16
            top = min(points, key=lambda p: p[1])
            assert abs(top[0] - (left + SPIKE_STEP / (STEPS - 1) * width)) < 0.2
            short = page.locator('#curves figure[data-metric="short"] figcaption')
            assert short.inner_text().startswith("short: 50 points")
            note = page.locator("#sampled-note")
            assert "at most 1,000 points" in note.inner_text()
            csv_link = note.locator("a", has_text="CSV")
            assert csv_link.get_attribute("href") == f"/runs/{run_id}/metrics.csv"
        finally:
            browser.close()
    assert not errors, errors


def test_every_point_is_a_download_away(long_run: tuple[str, str]) -> None:
    url, run_id = long_run
    got = httpx.get(f"{url}/runs/{run_id}/metrics.csv", params={"key": "loss"}, timeout=60)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert re.search(r'filename="long-loss\.csv"', got.headers["content-disposition"])
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["key", "step", "value", "timestamp"] and len(rows) == STEPS + 1
    assert [(int(r[1]), float(r[2])) for r in rows[1:]] == [
        (s, _loss(s)) for s in range(STEPS)]
    everything = httpx.get(f"{url}/runs/{run_id}/metrics.csv", timeout=60).text
    assert everything.count("\nshort,") == 50
    data: dict[str, Any] = httpx.get(f"{url}/api/runs/{run_id}/metrics", timeout=60).json()
    assert data["metrics"]["loss"]["points"] == STEPS
    assert data["metrics"]["loss"]["steps"] == list(range(STEPS))
    sampled = httpx.get(f"{url}/api/runs/{run_id}/metrics",
                        params={"keys": "loss", "max_points": 200}, timeout=60).json()
    loss = sampled["metrics"]["loss"]
    assert len(loss["steps"]) <= 200 and loss["points"] == STEPS
    assert loss["steps"][0] == 0 and loss["steps"][-1] == STEPS - 1
    assert loss["values"][loss["steps"].index(SPIKE_STEP)] == SPIKE
    missing = httpx.get(f"{url}/runs/{run_id}/metrics.csv", params={"key": "nope"},
                        timeout=30)
    assert missing.status_code == 404 and "loss, short" in missing.text
