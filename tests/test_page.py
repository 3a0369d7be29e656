"""The page of ``backprop explain --html`` in a real browser: Playwright driving Chromium.

One browser for the module; skipped, with the reason, when Playwright or Chromium is missing.
The page's JavaScript recomputes the iteration, so its steps are compared with the Python
engine's (``backprop.explain.steps``) on Mazur's network and on random small networks with every
activation and loss the page computes. Screenshots go to $BACKPROP_PAGE_SCREENSHOTS when set
(docs/images is made that way), else to a temporary folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop.cli import main
from backprop.explain import error_curve, numbers, steps
from backprop.page import page_data

ROOT = Path(__file__).resolve().parents[1]
MAZUR = ROOT / "examples" / "mazur.json"
MAZUR_ARGS = ["--input", "0.05,0.10", "--target", "0.01,0.99", "--lr", "0.5"]


@pytest.fixture(scope="module")
def mazur_page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "mazur.html"
    args = ["explain", str(MAZUR), *MAZUR_ARGS, "--steps", "2", "--precision", "9"]
    assert main([*args, "--html", str(path)]) == 0
    return path


class Opened:
    """A page opened in a fresh context, with the console errors and requests it made."""

    def __init__(self, browser, path: Path, hash: str = "", width: int = 1280, height: int = 860):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.url = path.as_uri()
        self.page.goto(self.url + hash)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.context.close()

    def equation(self) -> str:
        return self.page.text_content("#step-equation")

    def value(self) -> float:
        return float(self.page.get_attribute("#step-equation", "data-value"))

    def steps(self) -> list[dict]:
        return self.page.evaluate("window.backpropPage.steps()")

    def current(self) -> int:
        return self.page.evaluate("window.backpropPage.current()")


def curve(trace, lr: float, count: int) -> list[float]:
    return [error for _, error in sorted(error_curve(trace, lr, count).items())]


def wait_until(opened: Opened, expression: str, seconds: float = 5.0) -> None:
    """Poll ``expression`` (the page's policy forbids wait_for_function's eval)."""
    for _ in range(int(seconds / 0.05)):
        if opened.page.evaluate(expression):
            return
        opened.page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expression}")


def mazur_net(changes: dict | None = None) -> bp.Network:
    spec = json.loads(MAZUR.read_text())
    net = bp.Network([2, 2, 2], dtype="float64")
    for l, layer in enumerate(spec["layers"], start=1):
        net.layers[l].W, net.layers[l].b = layer["W"], layer["b"]
        net.layers[l].train_bias = False
    for (l, i, j), value in (changes or {}).items():
        net.layers[l].W[i, j] = value
    return net


def assert_same_steps(js_steps: list[dict], python_steps, where: str) -> None:
    """The page's steps of iteration 1 are the engine's: symbol, units, value and every number."""
    first = [step for step in js_steps if step["iteration"] == 0]
    assert len(first) == len(python_steps), where
    for mine, theirs in zip(first, python_steps, strict=True):
        label = f"{where}: {theirs.symbol} {theirs.units}"
        assert mine["symbol"]["s"] == theirs.symbol.name, label
        assert tuple(mine["units"]) == theirs.units and mine["section"] == theirs.section, label
        assert mine["value"] == pytest.approx(theirs.value, rel=1e-9, abs=1e-300), label
        page_numbers = [token["n"] for token in mine["substituted"] if "n" in token]
        assert page_numbers == pytest.approx(numbers(theirs.substituted), rel=1e-9), label


def text_lines(trace, lr: float, precision: int) -> list[str]:
    """The equations of ``trace.explain``'s text, one a line."""
    text = trace.explain(lr=lr, precision=precision)
    return [line.strip() for line in text.splitlines() if line.startswith("  ")]


def page_lines(opened: Opened, js_steps: list[dict], precision: int) -> list[str]:
    """The page's equations of iteration 1, written by its own JavaScript."""
    return opened.page.evaluate(
        "([steps, digits]) => steps.filter((s) => s.iteration === 0)"
        ".map((s) => window.BackpropExplain.equation(s, digits, 16))",
        [js_steps, precision],
    )


def test_page_opens_offline_without_errors(browser, mazur_page):
    with Opened(browser, mazur_page) as opened:
        assert (
            opened.page.text_content("#step-title")
            == "Iteration 1: Forward pass, layer 1 (sigmoid)"
        )
        assert opened.errors == []
        assert [url for url in opened.requests if not url.startswith(opened.url)] == []
        html = mazur_page.read_text()
        assert not re.search(r"<link|<script src|\b(src|href)\s*=|url\(|@import", html)
        assert opened.page.locator("svg#network [data-key]").count() == 6 + 8 + 4


def test_keys_and_buttons_show_mazur_numbers(browser, mazur_page, shots):
    with Opened(browser, mazur_page) as opened:
        page = opened.page
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        assert opened.equation().startswith("a²₁ = σ(z²₁)") and "0.75136507" in opened.equation()
        page.screenshot(path=str(shots / "page-forward.png"))
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert opened.equation().startswith("a²₂") and "0.772928465" in opened.equation()
        page.keyboard.press("ArrowLeft")
        assert opened.current() == 6
        page.click("#next")
        page.click("#next")
        assert opened.equation().startswith("E = ") and opened.equation().endswith("0.298371109")
        page.click("#to-backward")
        for _ in range(3):
            page.click("#next")
        assert opened.page.text_content("#step-title").startswith("Iteration 1: Hidden deltas")
        page.screenshot(path=str(shots / "page-delta-rule.png"))
        page.click("#to-update")
        published = [0.35891648, 0.408666186, 0.511301270, 0.561370121]
        published += [0.149780716, 0.19956143, 0.24975114, 0.29950229]
        updated = []
        for n in range(8):
            updated.append(opened.value())
            page.click("#next")
            if n == 3:
                page.screenshot(path=str(shots / "page-update.png"))
        assert updated == pytest.approx(published, abs=1e-8)
        assert (
            opened.page.text_content("#step-title")
            == "Iteration 2: Forward pass, layer 1 (sigmoid)"
        )
        while not opened.equation().startswith("E = "):
            page.keyboard.press("ArrowRight")
        assert (
            opened.value() == pytest.approx(0.291027774, abs=1e-9) and opened.value() < 0.298371109
        )
        assert opened.errors == []


def test_js_iteration_matches_python_on_mazur(browser, mazur_page):
    with Opened(browser, mazur_page) as opened:
        trace = mazur_net().backprop([[0.05, 0.10]], [[0.01, 0.99]])
        assert_same_steps(opened.steps(), steps(trace, lr=0.5), "mazur")
        assert page_lines(opened, opened.steps(), 9) == text_lines(trace, 0.5, 9)
        page_errors = opened.page.evaluate("window.backpropPage.iterations().map(it => it.E)")
        assert page_errors == pytest.approx(curve(trace, 0.5, 2), rel=1e-9)


CASES = [  # hidden activations, output activation, loss
    (["sigmoid"], "sigmoid", "squared"),
    (["tanh", "relu"], "identity", "squared"),
    (["relu"], "sigmoid", "log_loss"),
    (["softplus"], "softmax", "cross_entropy"),
    (["identity", "tanh"], "softmax", "squared"),
    (["tanh"], "sigmoid", "cross_entropy"),
    (["sigmoid"], "tanh", "absolute"),
    (["relu", "softplus"], "identity", "log_loss"),
    ([], "softmax", "log_loss"),
]


def random_trace(rng, hidden, output, loss):
    sizes = [int(rng.integers(1, 5)) for _ in range(len(hidden) + 1)]
    n_out = int(rng.integers(2, 5))
    layers = [bp.Layer(width, activation=act) for width, act in zip(sizes[1:], hidden, strict=True)]
    net = bp.Network(
        [sizes[0], *layers, bp.Layer(n_out, activation=output)],
        loss=loss,
        dtype="float64",
        seed=int(rng.integers(1 << 30)),
    )
    for layer in net.layers[1:]:
        layer.b = rng.normal(0, 0.5, layer.b.shape)
    x = rng.normal(0, 1, (1, sizes[0]))
    if loss == "cross_entropy":
        y = np.eye(n_out)[[int(rng.integers(n_out))]]
    elif loss == "log_loss" or output in ("sigmoid", "softmax"):
        y = rng.uniform(0.05, 0.95, (1, n_out))
    else:
        y = rng.normal(0, 1, (1, n_out))
    return net.backprop(x, y)


def test_js_iteration_matches_python_on_random_networks(browser, mazur_page):
    rng = np.random.default_rng(19)
    with Opened(browser, mazur_page) as opened:
        for hidden, output, loss in CASES:
            for _ in range(2):
                trace = random_trace(rng, hidden, output, loss)
                lr = float(rng.uniform(0.05, 1.0))
                data = page_data(trace, lr, iterations=3)
                js = opened.page.evaluate(
                    "([net, x, y, lr]) => window.backpropPage.stepsFor(net, x, y, lr, 3)",
                    [data["network"], data["input"], data["target"], lr],
                )
                where = f"{hidden} {output} {loss}"
                assert_same_steps(js, steps(trace, lr=lr), where)
                precision = int(rng.choice([3, 6, 9]))
                assert page_lines(opened, js, precision) == text_lines(trace, lr, precision), where
                errors = [s["value"] for s in js if s["section"] == "error"]
                assert errors == pytest.approx(curve(trace, lr, 3), rel=1e-9), where
        assert opened.errors == []


def test_an_edited_weight_recomputes_every_number(browser, mazur_page):
    with Opened(browser, mazur_page, "#step=9") as opened:
        before = opened.equation()
        opened.page.fill('input[data-name="w²₁₁"]', "-0.3")
        trace = mazur_net({(2, 0, 0): -0.3}).backprop([[0.05, 0.10]], [[0.01, 0.99]])
        assert_same_steps(opened.steps(), steps(trace, lr=0.5), "edited w²₁₁")
        assert opened.current() == 8 and opened.equation() != before
        assert opened.value() == pytest.approx(float(trace.loss), rel=1e-9)
        shown = float(
            opened.page.get_attribute("#errors tbody tr:nth-child(2) td:nth-child(2)", "data-value")
        )
        assert shown == pytest.approx(curve(trace, 0.5, 1)[1], rel=1e-9)
        opened.page.fill('input[data-name="η"]', "-1")
        assert opened.page.get_attribute('input[data-name="η"]', "aria-invalid") == "true"
        opened.page.click("#reset")
        assert opened.current() == 0
        assert opened.page.input_value('input[data-name="w²₁₁"]') == "0.4"
        assert opened.steps()[5]["value"] == pytest.approx(0.75136507, abs=1e-8)


def test_the_hash_restores_a_step_and_follows_it(browser, mazur_page):
    with Opened(browser, mazur_page, "#step=10") as opened:
        assert opened.current() == 9
        assert opened.page.text_content("#step-title").startswith("Iteration 1: Output deltas")
        opened.page.keyboard.press("ArrowRight")
        assert opened.page.evaluate("location.hash") == "#step=11"
        opened.page.evaluate("location.hash = '#step=3'")
        wait_until(opened, "window.backpropPage.current() === 2")


def test_play_pause_and_the_inspector(browser, mazur_page, shots):
    with Opened(browser, mazur_page) as opened:
        page = opened.page
        page.select_option("#speed", "200")
        page.keyboard.press(" ")
        wait_until(opened, "window.backpropPage.current() >= 2")
        page.keyboard.press(" ")
        stopped = opened.current()
        page.wait_for_timeout(500)
        assert opened.current() == stopped
        page.goto(opened.url + "#step=30")
        page.click('[data-key="edge-2-0-1"] text')
        listed = page.text_content("#inspector")
        assert "∂E/∂w²₁₂ = δ²₁·a¹₂" in listed and "w²₁₂ ← 0.45" in listed
        page.screenshot(path=str(shots / "page-inspector.png"))
        page.hover('[data-key="unit-1-1"] circle')
        hovered = page.text_content("#inspector")
        assert hovered.startswith("unit 2 of layer 1") and "z¹₂ = w¹₂₁·a⁰₁" in hovered
        page.mouse.move(1, 1)
        page.focus('[data-key="bias-2-0"]')
        page.keyboard.press("Enter")
        chosen = page.text_content("#inspector")
        assert chosen.startswith("bias b²₁") and "∂E/∂b²₁ = δ²₁" in chosen


def test_phone_width_fits_and_controls_are_labelled(browser, mazur_page, shots):
    with Opened(browser, mazur_page, "#step=14", width=390, height=844) as opened:
        page = opened.page
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        page.screenshot(path=str(shots / "page-phone.png"), full_page=True)
        unnamed = page.evaluate(
            """[...document.querySelectorAll('button, input, select')].filter(e =>
                 !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
                 !(e.tagName === 'BUTTON' && e.textContent.trim())).length"""
        )
        assert unnamed == 0
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") != "BODY"


def test_the_page_refuses_what_it_cannot_draw(tmp_path):
    big = bp.Network([2, 7, 1], dtype="float64").backprop([[0.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="at most 6 units per layer; layer 1 has 7"):
        big.to_html(tmp_path / "big.html", lr=0.1)
    deep = bp.Network([2, 2, 2, 2, 2, 1]).backprop([[0.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="at most 4 layers; this network has 5"):
        deep.to_html(tmp_path / "deep.html", lr=0.1)
    batch = bp.Network([2, 2, 1]).backprop([[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]])
    with pytest.raises(ValueError, match="one sample"):
        batch.to_html(tmp_path / "batch.html", lr=0.1)
    leaky = bp.Network([2, bp.Layer(2, activation=bp.activations.leaky_relu(0.2)), 1])
    with pytest.raises(ValueError, match="not leaky_relu"):
        leaky.backprop([[0.0, 1.0]], [[1.0]]).to_html(tmp_path / "leaky.html", lr=0.1)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_writes_only_its_own_pages(tmp_path, capsys):
    foreign = tmp_path / "notes.html"
    foreign.write_text("<p>mine</p>")
    args = ["explain", str(MAZUR), *MAZUR_ARGS]
    assert main([*args, "--html", str(foreign)]) == 2
    assert "not a page backprop wrote" in capsys.readouterr().err
    assert foreign.read_text() == "<p>mine</p>"
    page = tmp_path / "page.html"
    assert main([*args, "--html", str(page)]) == 0 and main([*args, "--html", str(page)]) == 0
    assert (
        main(
            [
                "explain",
                str(MAZUR),
                "--input",
                "0.05,0.10",
                "--target",
                "0.01,0.99",
                "--html",
                str(tmp_path / "x.html"),
            ]
        )
        == 2
    )
    assert "--html needs --lr" in capsys.readouterr().err


def test_the_cli_refuses_a_network_too_large_to_draw(tmp_path, capsys):
    wide = {
        "layers": [
            {"activation": "sigmoid", "W": [[0.1, 0.2]] * 9, "b": [0.0] * 9},
            {"activation": "sigmoid", "W": [[0.1] * 9], "b": [0.0]},
        ]
    }
    network = tmp_path / "wide.json"
    network.write_text(json.dumps(wide))
    page = tmp_path / "wide.html"
    code = main(
        [
            "explain",
            str(network),
            "--input",
            "1,0",
            "--target",
            "1",
            "--lr",
            "0.5",
            "--html",
            str(page),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and not page.exists()
    assert captured.err.count("\n") == 1
    assert (
        "backprop: error: the page draws at most 6 units per layer; layer 1 has 9" in captured.err
    )
