"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fake_cuda import Stream
from firefox_bidi import Firefox, FirefoxNotStarted

from backprop.engine.backend import base, fused


@pytest.fixture(autouse=True)
def nothing_refused_in_a_capture():
    """Fail a test in which the stand-in for CuPy refused something while a stream was being
    captured: the step fell back to running kernel by kernel, which results alone do not show
    (``fake_cuda``)."""
    Stream.refused.clear()
    yield
    refused, Stream.refused[:] = list(Stream.refused), []
    assert not refused, f"refused in a CUDA graph capture: {refused}"


@pytest.fixture(params=["numpy", "numba"])
def kernels(request, monkeypatch):
    """Run a test once with the numpy optimiser kernels and once with the compiled ones."""
    if request.param == "numba":
        monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
        if not fused.enabled():
            pytest.skip("numba is not installed")
    else:
        monkeypatch.setenv("BACKPROP_NUMBA", "0")
    return request.param


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and Path("/usr/bin/chromium").exists():
    CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, one per test module (never Playwright's own
    browser download, which needs the internet); the tests skip, saying why, without either."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the page tests need playwright")
    if CHROMIUM is None:
        pytest.skip("the page tests need Debian's chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")


@pytest.fixture(scope="module")
def firefox():
    """Debian's Firefox ESR driven over WebDriver BiDi (tests/firefox_bidi.py), one per test
    module, with a profile of its own that goes with it; skipped, saying why, without either
    Firefox or the websockets package."""
    pytest.importorskip("websockets.sync.client", reason="the Firefox tests need websockets")
    if FIREFOX is None:
        pytest.skip("the Firefox tests need Debian's firefox-esr (apt-get install firefox-esr)")
    try:
        launched = Firefox(FIREFOX)
    except FirefoxNotStarted as problem:
        pytest.skip(str(problem))
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where the page tests save their screenshots: $BACKPROP_PAGE_SCREENSHOTS when set (made
    if missing; docs/images is made that way), else a temporary folder."""
    folder = os.environ.get("BACKPROP_PAGE_SCREENSHOTS")
    if not folder:
        return tmp_path_factory.mktemp("screenshots")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def without_gpus() -> dict:
    """The registered backends less any GPU's (a GPU test may have registered the real one)."""
    return {name: b for name, b in base._BACKENDS.items() if not name.startswith("cupy")}


@pytest.fixture
def registry(monkeypatch):
    """The backends registered during a test are forgotten after it."""
    monkeypatch.setattr(base, "_BACKENDS", without_gpus())
