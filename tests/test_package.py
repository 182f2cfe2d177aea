"""What `pip install .` gives a user: the wheel holds every file the program reads at run time, and
its commands work from any folder with no checkout beside them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The wheel built from this checkout, installed into a folder of its own (its dependencies
    are the test environment's); the commands run from another, empty folder."""
    work = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(work / "dist")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    # Metadata declared the current way: no deprecation banners when a user installs it.
    assert "Deprecat" not in build.stdout + build.stderr and "BuildBackendWarning" not in build.stderr
    (wheel,) = (work / "dist").glob("*.whl")
    site = work / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target",
                              str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "MONITOR_CONFIG": str(elsewhere / "none.yaml")}
    return wheel, {"cwd": elsewhere, "env": env}


def monitor(run: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, **run)


def test_the_wheel_holds_every_file_the_program_reads(installed) -> None:
    wheel, run = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "monitor/schema.md" in names and any(n.startswith("monitor/judgement/models/") for n in names)
    where = subprocess.run([sys.executable, "-c", "import monitor; print(monitor.__file__)"], capture_output=True,
                           text=True, **run).stdout
    assert "site" in where and str(ROOT) not in where, "the installed copy, not the checkout, is what runs"


def test_the_installed_commands_work_from_another_folder(installed) -> None:
    _, run = installed
    cwd = run["cwd"]
    demo = monitor(run, "--db", "demo.db", "demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Stored " in demo.stdout and "-m monitor --db demo.db search refund" in demo.stdout
    classify = monitor(run, "classify", stdin="Acme Cloud lost all my data, never again\n")
    assert classify.returncode == 0, classify.stderr
    assert json.loads(classify.stdout)["bucket"] == "assassin"
    report = monitor(run, "--db", "demo.db", "report", "--since", "30d", "--out", "report.html")
    assert report.returncode == 0, report.stderr
    assert "<svg" in (cwd / "report.html").read_text(encoding="utf-8")
    serve = monitor(run, "--db", "demo.db", "serve", "--metadata", "metadata.json")
    assert serve.returncode == 0, serve.stderr
    meta = json.loads((cwd / "metadata.json").read_text(encoding="utf-8"))
    assert meta["databases"]["demo"]["tables"]["mentions"]["description"]  # read from the packaged schema
