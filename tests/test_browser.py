"""The PR team's pages in a real headless browser: Debian's Chromium (installed by .ci/run),
driven through its own command line (--dump-dom, --screenshot), against `monitor serve` on
loopback and a `monitor report` file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, make_demo, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="no Chromium here (CI installs Debian's; apt-get install chromium)")


def chromium(*args: str, timeout: float = 90) -> str:
    assert CHROMIUM, "CI must install Chromium (.ci/run)"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--user-data-dir=" + str(Path(os.environ.get("TMPDIR", "/tmp")) / "chromium-tests"),
                           *args], capture_output=True, text=True, timeout=timeout)
    return done.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo"))


def test_the_canned_assassins_page_shows_the_demos_assassin_with_its_reach(demo: Path, tmp_path: Path) -> None:
    with serving(demo) as base:
        dom = chromium("--dump-dom", f"{base}/demo/assassins_last_7_days")
        assert "Assassins of the last 7 days" in dom
        assert "Acme Cloud outage took our production down for 9 hours" in dom and "21000" in dom, "the post and its reach"
        chromium("--screenshot=" + str(tmp_path / "assassins.png"), "--window-size=1280,900", f"{base}/demo/assassins_last_7_days")
        assert (tmp_path / "assassins.png").stat().st_size > 10_000


def test_the_report_renders_its_charts(demo: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "monitor", "--db", str(demo), "report", "--since", "30d", "--out", str(report)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    dom = chromium("--dump-dom", report.as_uri())
    assert dom.count('class="bar"') >= 20 and "data-value" in dom, "SVG charts with a bar per day"
    assert "Top assassins by likely reach" in dom and "Acme Cloud outage took our production down" in dom
    assert "Hostile coverage by likely reach" in dom and "Acme Cloud outage disrupts thousands of businesses" in dom
    shot = tmp_path / "report.png"
    chromium("--screenshot=" + str(shot), "--window-size=1000,2400", report.as_uri())
    assert shot.stat().st_size > 20_000, "a rendered page, not a blank one"
