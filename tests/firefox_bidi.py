"""Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol Firefox speaks itself.

Playwright cannot drive this Firefox: its BiDi context setup always sends
``emulation.setMediaFeaturesOverride``, which Debian's Firefox ESR does not know. This client uses
only standard commands (session, browsingContext, script, input) over the ``websockets`` package.
Values cross as JSON, so functions passed to ``call`` take and return JSON-able values.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# WebDriver's code points for the named keys the tests press
KEYS = {"ArrowLeft": "\ue012", "ArrowRight": "\ue014", "End": "\ue010", "Enter": "\ue007"}
KEYS |= {"Home": "\ue011", "Tab": "\ue004"}


class FirefoxNotStarted(RuntimeError):
    """The browser is there but does not run here (a sandboxed or broken installation)."""


class Firefox:
    """A headless Firefox with a fresh profile and one tab; ``close`` ends both."""

    def __init__(self, executable: str, timeout: float = 30.0):
        from websockets.sync.client import connect  # optional: the tests skip without it

        self.timeout = timeout
        self.profile = Path(tempfile.mkdtemp(prefix="backprop-firefox-"))
        with open(self.profile / "stderr.log", "w") as log:
            self.process = subprocess.Popen(
                [executable, "--headless", "--no-remote", "--remote-debugging-port=0"]
                + ["--profile", str(self.profile)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.ids = itertools.count(1)
        self.loads = itertools.count(1)
        self.events: list[dict] = []
        self.connection = contextlib.ExitStack()
        try:
            url = self._endpoint() + "/session"
            self.socket = self.connection.enter_context(connect(url, max_size=None))
            self.command("session.new", {"capabilities": {}})
            events = ["log.entryAdded", "network.beforeRequestSent"]
            self.command("session.subscribe", {"events": events})
            # a window of its own, in front: the first one never takes the focus when headless,
            # and then neither :focus nor :focus-visible ever matches
            window = {"type": "window", "background": False}
            self.context = self.command("browsingContext.create", window)["context"]
        except BaseException:
            self.close()
            raise

    def _endpoint(self) -> str:
        """The address Firefox writes to stderr once its BiDi server listens."""
        deadline = time.monotonic() + self.timeout
        while True:
            log = (self.profile / "stderr.log").read_text(errors="replace")
            if found := re.search(r"WebDriver BiDi listening on (ws://\S+)", log):
                return found.group(1)
            if time.monotonic() > deadline or self.process.poll() is not None:
                last = (log.strip().splitlines() or ["no output"])[-1]
                raise FirefoxNotStarted(f"Firefox did not start its WebDriver BiDi server: {last}")
            time.sleep(0.05)

    def command(self, method: str, params: dict) -> dict:
        """Send one command and wait for its answer, keeping the events that arrive meanwhile."""
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=self.timeout))
            if message.get("type") == "event":
                self.events.append(message)
            elif message.get("id") == number:
                if message["type"] == "error":
                    raise RuntimeError(f"{method}: {message['error']}: {message['message']}")
                return message["result"]

    def open(self, url: str, width: int = 1280, height: int = 860) -> None:
        """Load ``url`` afresh (never a same-document jump) at the given viewport size."""
        viewport = {"width": width, "height": height}
        self.command("browsingContext.setViewport", {"context": self.context, "viewport": viewport})
        self.events.clear()
        load = {"context": self.context, "url": self._fresh(url), "wait": "complete"}
        self.command("browsingContext.navigate", load)

    def _fresh(self, url: str) -> str:
        """``url`` with a query of its own, so that loading it is never a jump within the
        document already there (going by ``about:blank`` instead makes Firefox 140 switch
        processes, and its WebDriver BiDi then loses the navigation now and then)."""
        address, hash_mark, fragment = url.partition("#")
        separator = "&" if "?" in address else "?"
        return f"{address}{separator}load={next(self.loads)}{hash_mark}{fragment}"

    def call(self, function: str, *args):
        """``function(*args)`` in the page, awaited; arguments and result travel as JSON."""
        wrapper = f"async (args) => JSON.stringify(await ({function})(...JSON.parse(args)))"
        arguments = [{"type": "string", "value": json.dumps(args)}]
        target = {"context": self.context}
        params = {"functionDeclaration": wrapper, "arguments": arguments, "target": target}
        result = self.command("script.callFunction", {**params, "awaitPromise": True})
        if result["type"] == "exception":
            raise RuntimeError(result["exceptionDetails"]["text"])
        value = result["result"]
        return json.loads(value["value"]) if value["type"] == "string" else None

    def evaluate(self, expression: str):
        return self.call(f"() => ({expression})")

    def wait_until(self, expression: str, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise AssertionError(f"never true: {expression}")
            time.sleep(0.05)

    def _actions(self, source: dict) -> None:
        params = {"context": self.context, "actions": [source]}
        self.command("input.performActions", params)

    def press(self, *keys: str) -> None:
        """Real key presses: names from KEYS, or single characters."""
        actions = []
        for key in keys:
            value = KEYS.get(key, key)
            actions += [{"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]
        self._actions({"type": "key", "id": "keyboard", "actions": actions})

    def _middle(self, selector: str) -> list[int]:
        """The middle of the first element ``selector`` matches, scrolled into view."""
        return self.call(
            """(selector) => {
                const element = document.querySelector(selector);
                element.scrollIntoView({ block: "center" });
                const box = element.getBoundingClientRect();
                return [Math.round(box.x + box.width / 2), Math.round(box.y + box.height / 2)];
            }""",
            selector,
        )

    def hover(self, selector: str) -> None:
        """Move the real pointer onto the element."""
        x, y = self._middle(selector)
        move = [{"type": "pointerMove", "x": x, "y": y}]
        self._actions({"type": "pointer", "id": "mouse", "actions": move})

    def click(self, selector: str) -> None:
        """A real pointer click in the middle of the element."""
        x, y = self._middle(selector)
        pointer = [
            {"type": "pointerMove", "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        self._actions({"type": "pointer", "id": "mouse", "actions": pointer})

    def text(self, selector: str) -> str:
        return self.call("(s) => document.querySelector(s).textContent", selector)

    def attribute(self, selector: str, name: str) -> str | None:
        return self.call("(s, n) => document.querySelector(s).getAttribute(n)", selector, name)

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        origin = "document" if full_page else "viewport"
        params = {"context": self.context, "origin": origin}
        shot = self.command("browsingContext.captureScreenshot", params)
        Path(path).write_bytes(base64.b64decode(shot["data"]))

    def problems(self) -> list[str]:
        """The console errors and warnings and the uncaught exceptions since the page opened."""
        self.evaluate("0")  # a round trip, so that every earlier event has arrived
        entries = [e["params"] for e in self.events if e["method"] == "log.entryAdded"]
        return [e["text"] for e in entries if e["level"] in ("error", "warn")]

    def requests(self) -> list[str]:
        """The URLs the page requested since it was opened."""
        self.evaluate("0")
        sent = [e["params"] for e in self.events if e["method"] == "network.beforeRequestSent"]
        return [e["request"]["url"] for e in sent if e.get("context") == self.context]

    def close(self) -> None:
        """Close the browser (killed if it does not go) and remove its profile."""
        try:
            self.command("browser.close", {})
            self.process.wait(timeout=10)
        except Exception:
            pass
        finally:
            self.connection.close()
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)
