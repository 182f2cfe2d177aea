"""A real headless Chromium driven through the DevTools protocol (its own websocket; the
``websockets`` client the Slack tests already use): open a page at a size, wait for it to load,
read it with JavaScript, take a screenshot, and keep every console error, uncaught exception and
network request the page made. Used by the browser tests and ``docs/screenshots.py``."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page (a tab): ``with Browser() as b: b.open(url)``."""

    def __init__(self, *, width: int = 1400, height: int = 1000) -> None:
        from websockets.sync.client import connect

        if CHROMIUM is None:
            raise RuntimeError("no Chromium here: apt-get install chromium")
        self.width, self.height = width, height
        # Chromium's helpers (renderer, crash handler) may still be writing the profile as the
        # browser exits: they share its process group, which close() ends before the folder goes.
        self._profile = tempfile.TemporaryDirectory(prefix="cdp-", ignore_cleanup_errors=True)
        self._process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        address = self._address()
        self._ws = connect(address, max_size=64 * 2**20, open_timeout=30)
        self._ids = itertools.count(1)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.console: list[str] = []  # errors: console.error, uncaught exceptions, failed loads
        self.requests: list[str] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def _address(self) -> str:
        deadline = time.monotonic() + 30
        assert self._process.stderr is not None
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                return found.group(1)
            if not line and self._process.poll() is not None:
                break
        raise RuntimeError("Chromium did not open its DevTools socket")

    def call(self, method: str, *, session: bool = False, timeout: float = 60, **params: Any) -> dict:
        """Send one command and wait for its answer, noting the events that come meanwhile."""
        ident = next(self._ids)
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def _event(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.console.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.console.append(params["entry"].get("text", ""))
        elif method == "Page.loadEventFired":
            self._loaded = True

    def open(self, url: str, *, timeout: float = 60) -> None:
        """Load ``url`` and wait for its load event."""
        self._loaded = False
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while not self._loaded:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{url} did not load within {timeout} s")
            self._event(json.loads(self._ws.recv(timeout=remaining)))

    def js(self, expression: str) -> Any:
        """The value of ``expression`` in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> None:
        """A PNG of the page at the browser's width (its whole height with ``full_page``)."""
        height = int(self.js("document.documentElement.scrollHeight")) if full_page else self.height
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=height, deviceScaleFactor=1,
                  mobile=False)
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=full_page)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            try:
                os.killpg(self._process.pid, signal.SIGKILL)  # its helpers, still in the group
            except ProcessLookupError:
                pass
            self._profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def available() -> bool:
    return CHROMIUM is not None or bool(os.environ.get("CI"))
