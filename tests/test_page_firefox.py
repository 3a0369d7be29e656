"""The pages of ``backprop explain --html`` and ``backprop playground`` in Firefox.

The essential checks of tests/test_page.py and tests/test_playground.py (which run in Chromium),
in Debian's Firefox ESR driven over WebDriver BiDi with real key presses and pointer clicks:
each page opens from file:// without errors or requests, steps through Mazur's published numbers,
recomputes an edited weight as the Python engine does, follows the URL hash, moves through the
epochs, and fits a phone's width. One browser for the module; skipped, with the reason, when
Firefox or the websockets package is missing. Screenshots go to $BACKPROP_PAGE_SCREENSHOTS when
set, else to a temporary folder.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_page import (
    CASES,
    MAZUR,
    MAZUR_ARGS,
    assert_same_steps,
    curve,
    mazur_net,
    random_trace,
    text_lines,
)
from test_playground import SMALL, moons

from backprop.cli import main
from backprop.explain import steps
from backprop.page import page_data
from backprop.page.playground import playground_page
from backprop.page.playground_data import record_run

PHONE = 375
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def mazur_page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "mazur.html"
    args = ["explain", str(MAZUR), *MAZUR_ARGS, "--steps", "2", "--precision", "9"]
    assert main([*args, "--html", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def run():
    data = moons()
    return record_run(data.X, data.y, SMALL, names={"dataset": "moons"})


@pytest.fixture(scope="module")
def moons_page(run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "moons.html"
    path.write_text(playground_page(run.data), encoding="utf-8")
    return path


def equation(firefox) -> str:
    return firefox.text("#step-equation")


def value(firefox) -> float:
    return float(firefox.attribute("#step-equation", "data-value"))


def current(firefox) -> int:
    return firefox.evaluate("window.backpropPage.current()")


def foreign_requests(firefox, page: Path) -> list[str]:
    """Requests other than the page itself and the data: URLs written inside it."""
    own = page.as_uri()
    return [url for url in firefox.requests() if not url.startswith((own, "data:"))]


def type_into(firefox, selector: str, text: str) -> None:
    """Select what the field holds, then type ``text`` key by key."""
    firefox.click(selector)
    firefox.call("(s) => document.querySelector(s).select()", selector)
    firefox.press(*text)


def test_explain_page_opens_offline_without_errors(firefox, mazur_page):
    firefox.open(mazur_page.as_uri())
    assert firefox.text("#step-title") == "Iteration 1: Forward pass, layer 1 (sigmoid)"
    assert firefox.evaluate("document.querySelectorAll('svg#network [data-key]').length") == 18
    assert firefox.problems() == []
    assert foreign_requests(firefox, mazur_page) == []


def test_keys_and_buttons_show_mazur_numbers(firefox, mazur_page, shots):
    firefox.open(mazur_page.as_uri())
    firefox.press(*["ArrowRight"] * 5)
    assert equation(firefox).startswith("a²₁ = σ(z²₁)") and "0.75136507" in equation(firefox)
    firefox.screenshot(shots / "firefox-page-forward.png")
    firefox.press("ArrowRight", "ArrowRight")
    assert equation(firefox).startswith("a²₂") and "0.772928465" in equation(firefox)
    firefox.press("ArrowLeft")
    assert current(firefox) == 6
    firefox.click("#next")
    firefox.click("#next")
    assert equation(firefox).startswith("E = ") and equation(firefox).endswith("0.298371109")
    firefox.click("#to-update")
    published = [0.35891648, 0.408666186, 0.511301270, 0.561370121]
    published += [0.149780716, 0.19956143, 0.24975114, 0.29950229]
    updated = []
    for _ in published:
        updated.append(value(firefox))
        firefox.click("#next")
    assert updated == pytest.approx(published, abs=1e-8)
    assert firefox.text("#step-title") == "Iteration 2: Forward pass, layer 1 (sigmoid)"
    while not equation(firefox).startswith("E = "):
        firefox.press("ArrowRight")
    assert value(firefox) == pytest.approx(0.291027774, abs=1e-9)
    firefox.screenshot(shots / "firefox-page-second-error.png")
    assert firefox.problems() == []


def test_space_plays_and_pauses(firefox, mazur_page):
    firefox.open(mazur_page.as_uri())
    firefox.call("() => { const s = document.querySelector('#speed'); s.value = '200'; }")
    firefox.press(" ")
    firefox.wait_until("window.backpropPage.current() >= 2")
    firefox.press(" ")
    stopped = current(firefox)
    firefox.evaluate("new Promise((done) => setTimeout(done, 500))")
    assert current(firefox) == stopped


def test_js_iteration_matches_python(firefox, mazur_page):
    firefox.open(mazur_page.as_uri())
    trace = mazur_net().backprop([[0.05, 0.10]], [[0.01, 0.99]])
    assert_same_steps(firefox.evaluate("window.backpropPage.steps()"), steps(trace, lr=0.5), "")
    rng = np.random.default_rng(19)
    for hidden, output, loss in CASES:
        trace = random_trace(rng, hidden, output, loss)
        lr = float(rng.uniform(0.05, 1.0))
        data = page_data(trace, lr, iterations=3)
        js = firefox.call(
            "(net, x, y, lr) => window.backpropPage.stepsFor(net, x, y, lr, 3)",
            data["network"],
            data["input"],
            data["target"],
            lr,
        )
        where = f"{hidden} {output} {loss}"
        assert_same_steps(js, steps(trace, lr=lr), where)
        lines = firefox.call(
            "(steps) => steps.filter((s) => s.iteration === 0)"
            ".map((s) => window.BackpropExplain.equation(s, 6, 16))",
            js,
        )
        assert lines == text_lines(trace, lr, 6), where
        errors = [s["value"] for s in js if s["section"] == "error"]
        assert errors == pytest.approx(curve(trace, lr, 3), rel=1e-9), where


def test_a_typed_weight_recomputes_every_number(firefox, mazur_page):
    firefox.open(mazur_page.as_uri() + "#step=9")
    before = equation(firefox)
    type_into(firefox, 'input[data-name="w²₁₁"]', "-0.3")
    trace = mazur_net({(2, 0, 0): -0.3}).backprop([[0.05, 0.10]], [[0.01, 0.99]])
    js_steps = firefox.evaluate("window.backpropPage.steps()")
    assert_same_steps(js_steps, steps(trace, lr=0.5), "typed w²₁₁")
    assert current(firefox) == 8 and equation(firefox) != before
    assert value(firefox) == pytest.approx(float(trace.loss), rel=1e-9)
    type_into(firefox, 'input[data-name="η"]', "-1")
    assert firefox.attribute('input[data-name="η"]', "aria-invalid") == "true"
    firefox.click("#reset")
    assert current(firefox) == 0
    assert firefox.evaluate("document.querySelector('input[data-name=\"w²₁₁\"]').value") == "0.4"
    assert firefox.problems() == []


def test_the_hash_restores_a_step_and_follows_it(firefox, mazur_page):
    firefox.open(mazur_page.as_uri() + "#step=10")
    assert current(firefox) == 9
    assert firefox.text("#step-title").startswith("Iteration 1: Output deltas")
    firefox.press("ArrowRight")
    assert firefox.evaluate("location.hash") == "#step=11"
    firefox.evaluate("location.hash = '#step=3'")
    firefox.wait_until("window.backpropPage.current() === 2")


def test_the_inspector_follows_clicks_hover_and_keys(firefox, mazur_page, shots):
    firefox.open(mazur_page.as_uri() + "#step=30")
    firefox.click('[data-key="edge-2-0-1"] text')
    listed = firefox.text("#inspector")
    assert "∂E/∂w²₁₂ = δ²₁·a¹₂" in listed and "w²₁₂ ← 0.45" in listed
    firefox.screenshot(shots / "firefox-page-inspector.png")
    firefox.hover('[data-key="unit-1-1"] circle')
    hovered = firefox.text("#inspector")
    assert hovered.startswith("unit 2 of layer 1") and "z¹₂ = w¹₂₁·a⁰₁" in hovered
    firefox.hover("h1")
    firefox.call("() => document.querySelector('[data-key=\"bias-2-0\"]').focus()")
    firefox.press("Enter")
    chosen = firefox.text("#inspector")
    assert chosen.startswith("bias b²₁") and "∂E/∂b²₁ = δ²₁" in chosen
    assert firefox.problems() == []


def test_explain_page_fits_a_phone(firefox, mazur_page, shots):
    firefox.open(mazur_page.as_uri() + "#step=14", width=PHONE, height=812)
    assert firefox.evaluate(OVERFLOW) <= 0
    firefox.screenshot(shots / "firefox-page-phone.png", full_page=True)
    firefox.press("Tab")  # the drawing, which scrolls sideways here, takes the focus first
    focused = (
        "[document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert firefox.evaluate(focused) == ["figure", "auto"]


def open_playground(firefox, page: Path, width: int = 1280, height: int = 900) -> None:
    firefox.open(page.as_uri(), width, height)
    firefox.wait_until("window.backpropPlayground !== undefined")


def test_playground_opens_offline_without_errors(firefox, moons_page, shots):
    open_playground(firefox, moons_page)
    firefox.screenshot(shots / "firefox-playground.png", full_page=True)
    assert firefox.problems() == []
    assert foreign_requests(firefox, moons_page) == []


def test_the_slider_moves_through_the_epochs(firefox, moons_page, run):
    open_playground(firefox, moons_page)
    firefox.call("() => document.querySelector('#epoch').focus()")
    firefox.press("Home")
    assert firefox.attribute("#readout", "data-epoch") == "0"
    assert "before training" in firefox.text("#readout")
    for key, epoch in (("End", SMALL.epochs), ("ArrowLeft", SMALL.epochs - 1), ("Home", 0)):
        firefox.press(key)
        assert firefox.attribute("#readout", "data-epoch") == str(epoch)
        if epoch:
            readout = firefox.text("#readout")
            shown = float(re.search(r"training loss ([\d.e+-]+)", readout).group(1))
            assert math.isclose(shown, run.history.loss[epoch - 1], rel_tol=1e-3)
            assert firefox.text("#epoch-label") == f"epoch {epoch} of {SMALL.epochs}"
    firefox.click("#play")
    firefox.wait_until("window.backpropPlayground.frameIndex() > 3")
    firefox.click("#play")
    assert firefox.attribute("#play", "aria-pressed") == "false"
    assert firefox.problems() == []


def test_tab_reaches_play_which_shows_its_focus_and_plays(firefox, moons_page):
    open_playground(firefox, moons_page)
    firefox.press("Tab")
    assert firefox.evaluate("document.activeElement.id") == "play"
    assert firefox.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    firefox.press("Enter")  # at the last epoch, play starts again from epoch 0
    firefox.wait_until("window.backpropPlayground.frameIndex() > 3")
    assert firefox.attribute("#play", "aria-pressed") == "true"
    firefox.press("Enter")
    stopped = firefox.evaluate("window.backpropPlayground.frameIndex()")
    firefox.evaluate("new Promise((done) => setTimeout(done, 300))")
    assert firefox.evaluate("window.backpropPlayground.frameIndex()") == stopped
    firefox.press("Tab")
    assert firefox.evaluate("document.activeElement.id") == "epoch"


def test_playground_fits_a_phone(firefox, moons_page, shots):
    open_playground(firefox, moons_page, width=PHONE, height=812)
    assert firefox.evaluate(OVERFLOW) <= 0
    firefox.screenshot(shots / "firefox-playground-phone.png", full_page=True)
