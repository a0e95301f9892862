"""A real headless chromium driven over its DevTools pipe, for the report's browser tests.

``chromium --window-size`` cannot go below 500 px, so a phone's 390 px is set
with the DevTools protocol (``Emulation.setDeviceMetricsOverride``), spoken over
``--remote-debugging-pipe`` (fds 3 and 4, JSON messages ending in NUL): no
port is opened and nothing but the standard library is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

MEASURE = """JSON.stringify((function () {
  var d = document.documentElement, w = WIDTH, out = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var p = el.parentElement;
    if (p && p.closest('.scroll')) { return; }  // a box that scrolls sideways holds it
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1) { out.push(el.tagName + '.' + el.getAttribute('class')); }
  });
  var svgs = {};
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    svgs[svg.dataset.chart] = svg.getBoundingClientRect().width; });
  return {svgWidths: svgs, scrollWidth: d.scrollWidth, innerWidth: window.innerWidth,
          scrollHeight: d.scrollHeight,
          overflowing: out.slice(0, 8),
          charts: Number(document.body.dataset.chartsRendered || 0)};
})())"""
"""What a test asks the page: its width, and what sticks out past ``WIDTH`` (the viewport's
width asked for; a phone's browser widens its viewport to fit a page that is too wide)."""


class Browser:
    """One headless chromium; :meth:`open` loads a page at a width and measures it."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def wire() -> None:  # in the child: its fds 3 and 4 are the protocol's pipe
            high_in = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=wire,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.pdf = b""  # the last page opened for print, as PDF

    def _send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._read], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"chromium did not answer within {timeout:.0f} s")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _wait_for(self, method: str, session: str) -> None:
        while True:
            if any(
                m.get("method") == method and m.get("sessionId") == session for m in self.events
            ):
                return
            self.events.append(self._receive())

    def open(
        self, page: Path, width: int, height: int = 900, *, media: str = "screen"
    ) -> tuple[dict[str, Any], bytes]:
        """Load ``page`` in a viewport ``width`` px wide (styled for ``media``, screen or
        print); its measurements (:data:`MEASURE`), the URLs it requested, the
        ``<svg>`` charts' widths, and a PNG of the whole page at that width."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session,
        )
        self._send("Emulation.setEmulatedMedia", {"media": media}, session)
        self._send("Network.enable", {}, session)
        self._send("Page.enable", {}, session)
        self._send("Page.navigate", {"url": page.as_uri()}, session)
        self._wait_for("Page.loadEventFired", session)
        value = self._send(
            "Runtime.evaluate",
            {"expression": MEASURE.replace("WIDTH", str(width)), "returnByValue": True},
            session,
        )["result"]["value"]
        measured: dict[str, Any] = json.loads(value)
        self.pdf = b""
        if media == "print":
            data = self._send("Page.printToPDF", {"printBackground": True}, session)["data"]
            self.pdf = base64.b64decode(data)
        measured["requests"] = [
            m["params"]["request"]["url"]
            for m in self.events
            if m.get("method") == "Network.requestWillBeSent" and m.get("sessionId") == session
        ]
        # the whole page in one picture: a viewport as tall as the page
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": int(measured["scrollHeight"]),
                "deviceScaleFactor": 1,
                "mobile": width < 600,
            },
            session,
        )
        shot = self._send("Page.captureScreenshot", {"format": "png"}, session)["data"]
        self._send("Target.closeTarget", {"targetId": target})
        return measured, base64.b64decode(shot)

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._write)
        os.close(self._read)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
