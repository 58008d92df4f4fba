"""The built documentation site, opened in headless Chromium: pictures load, nothing overflows, no raw markup.

Chromium is driven over the DevTools protocol with a small client on ``websockets``; the test is
skipped where no Chromium is installed (``make test`` installs Debian's where it can). Screenshots of
every page and width land in ``site/_screens/`` for review.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import pathlib
import re
import shutil
import subprocess
import threading
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# What a reader must never see: numpydoc/Sphinx roles, citation references, RST double backticks.
# In the page's text a role's backticks are gone (``:class:`X` `` reads ":class:X"), so the role alone counts.
RAW_MARKUP = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|obj|exc|data|const|ref|term):(?=\S)|\[\d+\]_|``")

PAGES = {"home": "", "feature": "joint-inference/", "api": "api/joint_inference/"}
WIDTHS = (1280, 400)
# A diagram is readable when its 12 pt Graphviz labels are drawn at least this many CSS pixels high.
MIN_LABEL_PX = 9.0


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal Chrome DevTools Protocol client: one websocket to the browser, one attached page."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=10))
        self._next_id = 0
        self._events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.page("Page.enable")

    def call(self, method: str, session: str | None = None, timeout: float = 30.0, **params) -> dict:
        """Send one command and return its result; events read meanwhile are kept for ``wait_for``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def page(self, method: str, **params) -> dict:
        """Send a command to the attached page."""
        return self.call(method, session=self.session, **params)

    def wait_for(self, event: str, timeout: float = 30.0) -> dict:
        """Return the next ``event`` of the attached page (already received or still to come)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, seen in enumerate(self._events):
                if seen.get("method") == event and seen.get("sessionId") == self.session:
                    return self._events.pop(i)
            self._events.append(json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def evaluate(self, expression: str):
        """Evaluate JavaScript in the page (awaiting a promise) and return its value."""
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def open(self, url: str, width: int, height: int = 900) -> None:
        """Load ``url`` at a window ``width`` CSS pixels wide and wait until its images are in."""
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self._events.clear()
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("Promise.all([...document.images].map(i => i.complete ? null :"
                      " new Promise(r => { i.onload = i.onerror = r; })))")

    def screenshot(self, path: pathlib.Path, width: int) -> None:
        """Save the whole page (up to 6000 px high) as a PNG."""
        import base64

        height = min(6000, int(self.evaluate("document.documentElement.scrollHeight")))
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        data = self.page("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Close the websocket."""
        self._stack.close()


@pytest.fixture(scope="module")
def site_url(built_site):
    """Serve the built site on 127.0.0.1 (a free port) and yield its base URL."""
    site, problems = built_site
    if problems is not None:
        pytest.skip("the site did not build (test_site_builds_in_strict_mode says why)")
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Start headless Chromium with no network access beyond 127.0.0.1 and yield a DevTools client."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    pytest.importorskip("websockets.sync.client")
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Chromium did not start (exit code {process.poll()})")
        time.sleep(0.1)
    port, path = port_file.read_text().split()[:2]
    client = DevTools(f"ws://127.0.0.1:{port}{path}")
    try:
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_CHECK_PAGE = """(() => {
  const root = document.documentElement;
  const diagrams = [...document.images].filter(i => /diagrams\\/[^/]+\\.svg$/.test(i.src));
  return {
    overflow: root.scrollWidth - root.clientWidth,
    wide: [...document.querySelectorAll('article *')]
      .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1
                   && getComputedStyle(e).position !== 'fixed' && !e.closest('.md-typeset__scrollwrap, pre, .diagram-scroll'))
      .slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60)),
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    diagrams: diagrams.map(i => ({src: i.src, scale: i.clientWidth / i.naturalWidth})),
    text: document.querySelector('article') ? document.querySelector('article').innerText : document.body.innerText,
  };
})()"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_in_headless_chromium(browser, site_url, built_site, page, width):
    browser.open(site_url + PAGES[page], width)
    seen = browser.evaluate(_CHECK_PAGE)
    screens = built_site[0] / "_screens"
    screens.mkdir(exist_ok=True)
    browser.screenshot(screens / f"{page}-{width}.png", width)

    assert seen["broken"] == [], "images that did not load"
    assert seen["overflow"] <= 0, f"the page scrolls sideways by {seen['overflow']} px: {seen['wide']}"
    raw = sorted({m.group(0) for m in RAW_MARKUP.finditer(seen["text"])})
    assert raw == [], f"raw markup visible on {PAGES[page] or 'home'}"
    if page == "feature":
        assert seen["diagrams"], "the feature page shows no diagram"
    small = [d for d in seen["diagrams"] if 16 * d["scale"] < MIN_LABEL_PX]
    assert small == [], f"diagram labels drawn under {MIN_LABEL_PX} px at {width} px"


def _pages_with_diagrams() -> list[str]:
    docs = pathlib.Path(__file__).resolve().parents[1] / "docs"
    found = []
    for page in sorted(docs.glob("*.md")):
        text = re.sub(r"`[^`\n]+`", "", page.read_text(encoding="utf-8"))     # not the syntax shown as code
        if re.search(r"!\[[^\]]*\]\(diagrams/[^)]+\.svg\)", text):
            found.append("" if page.stem == "index" else f"{page.stem}/")
    return found


@pytest.mark.parametrize("path", _pages_with_diagrams())
def test_every_diagram_page_reads_at_phone_width(browser, site_url, path):
    browser.open(site_url + path, 400)
    seen = browser.evaluate(_CHECK_PAGE)

    assert seen["diagrams"], f"{path}: no diagram shown"
    assert seen["broken"] == []
    assert seen["overflow"] <= 0, f"{path} scrolls sideways by {seen['overflow']} px: {seen['wide']}"
    small = [d["src"] for d in seen["diagrams"] if 16 * d["scale"] < MIN_LABEL_PX]
    assert small == [], f"diagram labels drawn under {MIN_LABEL_PX} px at 400 px"
