"""Headless Chromium driven over the DevTools protocol, through a pipe (no port, no websocket).

Chromium started with --remote-debugging-pipe reads protocol messages from its fd 3 and
writes to its fd 4, each a JSON object ended by a NUL byte. One Browser holds one page
(a target attached in flat mode); `netns` runs Chromium inside a network namespace, so
it reaches a uhttpd that listens on that namespace's 127.0.0.1.

Waits poll for an outcome up to a generous deadline; nothing here measures time.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class CDPError(Exception):
    """The browser answered with an error, went away, or an outcome never came."""


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    def __init__(self, netns: str | None = None, width: int = 1280, height: int = 1000):
        binary = chromium_binary()
        if binary is None:
            raise CDPError("no chromium on PATH (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="ddns-edge-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # the child's ends above 9, so that moving them to 3 and 4 cannot clobber one another
        to_chrome_r, from_chrome_w = (_above_9(fd) for fd in (to_chrome_r, from_chrome_w))
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--disable-extensions", "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}", "about:blank"]
        if netns:
            args = ["ip", "netns", "exec", netns, *args]
        # bash moves the pipe ends to fds 3 and 4, where --remote-debugging-pipe wants them
        shell = f'exec 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-; exec "$@"'
        self.proc = subprocess.Popen(["bash", "-c", shell, "bash", *args], pass_fds=(to_chrome_r, from_chrome_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("CDP_STDERR", os.devnull), "w"),
                                     start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session: str | None = None
        try:
            target = self.call("Target.createTarget", url="about:blank", session=False)["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    # -- protocol ------------------------------------------------------------------------

    def _read_message(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise CDPError("no message from chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise CDPError("chromium closed its DevTools pipe (it exited)")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, *, session: bool = True, timeout: float = 60, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_chrome, data):]
        while True:
            reply = self._read_message(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    # -- page ----------------------------------------------------------------------------

    def js(self, expression: str, timeout: float = 60):
        """The value of a JavaScript expression (promises awaited); a thrown error raises CDPError."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript: {text}")
        return result.get("result", {}).get("value")

    def wait(self, expression: str, timeout: float = 60, what: str | None = None):
        """Poll until the expression is truthy; return its value, or raise CDPError naming `what`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.js(expression)
            except CDPError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"never happened: {what or expression}")
            time.sleep(0.2)

    def wait_selector(self, selector: str, what: str | None = None, timeout: float = 60) -> None:
        self.wait(f"!!document.querySelector({json.dumps(selector)})", timeout, what or f"{selector} present")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", what=f"{url} loaded")

    def type_into(self, selector: str, text: str) -> None:
        """Focus a field, replace its text by typing (input events), then Tab out (keyup, blur)."""
        self.wait_selector(selector)
        self.js(f"(function(){{ const e = document.querySelector({json.dumps(selector)}); e.focus(); e.select && e.select(); return true; }})()")
        self.call("Input.dispatchKeyEvent", type="keyDown", key="Delete", code="Delete", windowsVirtualKeyCode=46)
        self.call("Input.dispatchKeyEvent", type="keyUp", key="Delete", code="Delete", windowsVirtualKeyCode=46)
        if text:
            self.call("Input.insertText", text=text)
        self.key("Tab")

    def key(self, name: str) -> None:
        codes = {"Tab": 9, "Enter": 13, "Escape": 27}
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=name, code=name, windowsVirtualKeyCode=codes[name])

    def click(self, selector: str, what: str | None = None) -> None:
        """A real mouse click in the middle of the first element that matches (scrolled into view)."""
        where = f"""(function(){{
            const e = document.querySelector({json.dumps(selector)});
            if (!e || !e.offsetParent && e.tagName !== 'BODY') return null;
            e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect();
            return r.width && r.height ? [r.left + r.width / 2, r.top + r.height / 2] : null; }})()"""
        box, last = None, None
        while box is None or box != last:  # where it stays put: a list that is still opening moves
            last = box
            box = self.wait(where, what=what or f"{selector} shown")
            time.sleep(0.1)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def text(self, selector: str = "body") -> str:
        return self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''") or ""

    def html(self) -> str:
        return self.js("document.documentElement.outerHTML") or ""

    def screenshot(self, path: str) -> str:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def js_errors(self) -> list[str]:
        """JavaScript exceptions and console errors since the last call."""
        out = []
        for m in self.events:
            method, params = m.get("method"), m.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                out.append((d.get("exception", {}).get("description") or d.get("text", "")).split("\n")[0])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        self.events.clear()
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
