"""Start-up: whole-process times of the commands people type, beside ``python -c pass``.

    python benchmarks/startup.py [--runs 7]

Each command runs as its own process (``python -m monitor …``) against a small config and an
empty store in a temporary folder; each time is the median of ``--runs``, taken in turns with
``python -c pass`` so both see the same machine, after one run that leaves the bytecode cached
as it is on a user's machine. Issue 17's goal: ``--help``, ``status`` and
``search`` ≤ 0.3 s; ``classify`` loads the language model only when a text needs it.
Where the time goes: ``python -X importtime -m monitor --help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """brands: [{name: Acme Cloud, keywords: ['"Acme Cloud"']}]
sources: [{name: blog, type: rss, url: "https://blog.example.com/feed.xml"}]
database: monitor.db
"""


# As on a user's machine, Python keeps the compiled bytecode of our modules (__pycache__): a shell
# that sets PYTHONDONTWRITEBYTECODE (CI, this project's machines) would otherwise compile every
# module of ours again on every run, some 40 ms that no user pays after the first run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(argv: list[str], cwd: Path, stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, input=stdin, text=True, capture_output=True, check=False, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from monitor.store import Store

    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "config.yaml").write_text(CONFIG, encoding="utf-8")
        Store(cwd / "monitor.db").close()
        monitor = [sys.executable, "-m", "monitor"]
        commands = {
            "monitor --help": (monitor + ["--help"], None),
            "monitor status": (monitor + ["status"], None),
            "monitor search acme": (monitor + ["search", "acme"], None),
            "monitor classify (1 line)": (monitor + ["classify"], "Acme Cloud support ignored me for a week\n"),
        }
        env_pass = [sys.executable, "-c", "pass"]
        print(f"median of {args.runs} runs each, beside `python -c pass` run in turns:")
        for label, (argv, stdin) in commands.items():
            ours, bare = [], []
            run(argv, cwd, stdin)  # the first run writes the bytecode
            for _ in range(args.runs):
                bare.append(run(env_pass, cwd))
                ours.append(run(argv, cwd, stdin))
            mine, base = statistics.median(ours), statistics.median(bare)
            print(f"  {label:<28} {mine:6.2f} s   {mine / base:5.1f}x python -c pass ({base * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
