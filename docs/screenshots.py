"""Re-make the README's screenshots from a fresh demo database, at 1400 px in headless Chromium.

    python docs/screenshots.py

Writes docs/img/dashboard.png (what `monitor serve` opens on), docs/img/mentions.png (a table
page) and docs/img/report.png (`monitor report --since 14d`). Needs Debian's chromium (what CI
installs); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cdp import Browser  # noqa: E402
from tests.support import serving  # noqa: E402


def main() -> None:
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.db"
        subprocess.run([sys.executable, "-m", "monitor", "--db", str(db), "demo"], cwd=folder, check=True,
                       capture_output=True, timeout=300)
        report = Path(folder) / "report.html"
        subprocess.run([sys.executable, "-m", "monitor", "--db", str(db), "report", "--since", "14d", "--out", str(report)],
                       check=True, capture_output=True, timeout=300)
        with serving(db) as base, Browser(width=1400, height=1000) as browser:
            browser.open(f"{base}/")
            browser.screenshot(out / "dashboard.png")
            browser.open(f"{base}/demo/mentions")
            browser.screenshot(out / "mentions.png", full_page=False)
            browser.open(report.as_uri())
            browser.screenshot(out / "report.png")
            assert not browser.console, browser.console
    for name in ("dashboard.png", "mentions.png", "report.png"):
        print(f"docs/img/{name}: {(out / name).stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
