"""The training view: the recorded run is the History, the seed replays it, the command refuses
what it should, and in a real browser the page opens offline without errors, its slider moves
through the epochs and its curves are the History's numbers.

The browser tests drive Debian's chromium through Playwright and are skipped, with the reason,
when either is missing. Their screenshots go to pytest's temporary directory (printed), or to
``$BACKPROP_SCREENSHOTS`` when that names a directory.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from test_cli_files import refused_in_process

from backprop import Network, datasets
from backprop.cli import main
from backprop.page.html import inline_page, is_backprop_page
from backprop.page.playground import playground_page
from backprop.page.playground_data import MAX_FRAMES, Settings, _split, frame_epochs, record_run

SMALL = Settings(hidden=[6, 5], epochs=40, batch_size=16, lr=0.1, validation=0.25, seed=3)


def moons():
    return datasets.two_moons(n_samples=120, noise=0.15, seed=1)


@pytest.fixture(scope="module")
def run():
    data = moons()
    return record_run(data.X, data.y, SMALL, names={"dataset": "moons"})


# -- the recording ---------------------------------------------------------------------------


def test_the_recorded_curves_are_the_history(run):
    history, data = run.history, run.data
    assert data["epochs"] == len(history) == SMALL.epochs
    np.testing.assert_allclose(data["loss"], history.loss, rtol=1e-3)
    np.testing.assert_allclose(data["val_loss"], history["val_loss"], rtol=1e-3)
    assert [frame["epoch"] for frame in data["frames"]] == list(range(SMALL.epochs + 1))


def test_mean_abs_delta_is_over_every_training_sample(run):
    """Each epoch's mean |δˡ| over the training rows, from the weights after that epoch."""
    recorded = np.array(run.data["mean_abs_delta"])
    assert recorded.shape == (len(run.net.layers) - 1, SMALL.epochs)
    data = moons()
    train_rows, _ = _split(len(data.X), SMALL.validation, SMALL.seed)
    X = data.X[train_rows]
    scaled = (X - X.mean(axis=0)) / X.std(axis=0)
    net = Network(run.data["sizes"], hidden="tanh", output="softmax", loss="cross_entropy")
    for epoch in (1, SMALL.epochs // 2, SMALL.epochs):
        frame = run.data["frames"][epoch]
        for layer, W, b in zip(net.layers[1:], frame["W"], frame["b"], strict=True):
            layer.W[...], layer.b[...] = W, b
        trace = net.backprop(scaled, data.y[train_rows])
        expected = [np.abs(delta).mean() for delta in trace.delta[1:]]
        np.testing.assert_allclose(recorded[:, epoch - 1], expected, rtol=5e-3)


def test_the_last_frame_holds_the_trained_weights(run):
    last = run.data["frames"][-1]
    for l, layer in enumerate(run.net.layers[1:]):
        np.testing.assert_allclose(last["W"][l], layer.W, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(last["b"][l], layer.b, rtol=1e-3, atol=1e-6)


def test_the_seed_replays_the_run(run):
    data = moons()
    again = record_run(data.X, data.y, SMALL, names={"dataset": "moons"})
    assert again.data == run.data
    other = record_run(data.X, data.y, Settings(**{**vars(SMALL), "seed": 4}))
    assert other.data["loss"] != run.data["loss"]


def test_long_runs_keep_at_most_max_frames():
    epochs = frame_epochs(5000)
    assert len(epochs) <= MAX_FRAMES and epochs[0] == 0 and epochs[-1] == 5000
    assert epochs == sorted(set(epochs))


def test_a_large_network_is_summarised_not_drawn():
    data = moons()
    wide = record_run(data.X, data.y, Settings(hidden=[40], epochs=2, validation=0))
    assert "40 units" in wide.data["too_large"]
    assert "W" not in wide.data["frames"][0] and len(wide.data["frames"][0]["mean_abs_W"]) == 2


def test_the_page_is_self_contained_and_marked(run, tmp_path):
    page = playground_page(run.data)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert '<meta name="generator" content="backprop ' in page
    page = inline_page("t", "", [], [], {"a": "</script>"})
    payload = re.search(r'id="page-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(payload) == {"a": "</script>"}
    path = tmp_path / "p.html"
    path.write_text(page, encoding="utf-8")
    assert is_backprop_page(path)
    path.write_text("<!DOCTYPE html><title>mine</title>", encoding="utf-8")
    assert not is_backprop_page(path)


# -- the command -----------------------------------------------------------------------------


def test_the_command_writes_a_page_and_replaces_only_its_own(tmp_path, capsys):
    out = tmp_path / "xor.html"
    argv = ["playground", "xor", "--epochs", "5", "--samples", "40", "--out", str(out)]
    assert main(argv) == 0
    assert is_backprop_page(out) and "--seed 0" in out.read_text(encoding="utf-8")
    assert main([*argv, "--seed", "2"]) == 0
    assert "--seed 2" in out.read_text(encoding="utf-8")
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my notes</html>", encoding="utf-8")
    refused_in_process(capsys, [*argv[:-1], str(mine)], "is not a page backprop wrote")
    assert mine.read_text(encoding="utf-8") == "<html>my notes</html>"
    refused_in_process(
        capsys, [*argv[:-1], str(tmp_path / "page.txt")], "must name an .html or .htm file"
    )


@pytest.mark.parametrize(
    "options, message",
    [
        (["--hidden", "400,400"], "parameters"),
        (["--epochs", "0"], "--epochs"),
        (["--lr", "-1"], "--lr"),
        (["--activation", "softmax"], "--activation"),
        (["--validation", "1"], "--validation"),
    ],
)
def test_bad_options_exit_2_in_one_line(tmp_path, capsys, options, message):
    refused_in_process(
        capsys, ["playground", "moons", "--out", str(tmp_path / "p.html"), *options], message
    )
    assert not (tmp_path / "p.html").exists()


def test_a_csv_with_two_features_and_text_labels(tmp_path, capsys):
    data = moons()
    table = tmp_path / "moons.csv"
    rows = [f"{a:.5f},{b:.5f},{'ab'[c]}" for (a, b), c in zip(data.X, data.y, strict=True)]
    table.write_text("width,height,kind\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "page.html"
    assert main(["playground", str(table), "--epochs", "3", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "width" in page and '"classes":["a","b"]' in page
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b,c,y\n1,2,3,0\n2,3,4,1\n", encoding="utf-8")
    refused_in_process(
        capsys, ["playground", str(wide), "--out", str(out)], "one or two feature columns"
    )
    refused_in_process(capsys, ["playground", str(table), "--out", str(table)], "--out")


# -- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    folder = os.environ.get("BACKPROP_SCREENSHOTS")
    path = Path(folder) if folder and os.path.isdir(folder) else tmp_path_factory.mktemp("shots")
    print(f"screenshots in {path}")
    return path


def _open(browser, path, width=1280, height=900):
    """The page at ``path`` opened from file://, with every console message and request kept."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.problems, page.requests = [], []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(Path(path).as_uri())
    _wait_until(page, "window.backpropPlayground !== undefined")
    return page


def _wait_until(page, condition, seconds=5.0):
    """Poll ``condition`` from Python: the page's policy forbids the eval of wait_for_function."""
    for _ in range(int(seconds / 0.05)):
        if page.evaluate(condition):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {condition}")


@pytest.fixture(scope="module")
def moons_page(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "moons.html"
    path.write_text(playground_page(run.data), encoding="utf-8")
    return path


def _polyline(page, chart, series):
    """The values a polyline of ``chart`` draws, read back through the chart's axis."""
    svg = page.locator(f"#{chart}")
    low, high = float(svg.get_attribute("data-y-min")), float(svg.get_attribute("data-y-max"))
    log = svg.get_attribute("data-log") == "true"
    points = page.locator(f'#{chart} polyline[data-series="{series}"]').get_attribute("points")
    ys = np.array([float(point.split(",")[1]) for point in points.split()])
    top, bottom = 12, 220 - 36
    values = low + (bottom - ys) / (bottom - top) * (high - low)
    return (10**values if log else values), (high - low)


def test_the_page_opens_offline_without_errors(browser, moons_page, screenshots):
    page = _open(browser, moons_page)
    page.screenshot(path=str(screenshots / "playground-laptop.png"), full_page=True)
    assert page.problems == []
    assert page.requests == [moons_page.as_uri()]  # the page itself, nothing else
    page.close()


def test_the_slider_moves_through_the_epochs(browser, moons_page, run):
    page = _open(browser, moons_page)
    slider = page.locator("#epoch")
    slider.focus()
    page.keyboard.press("Home")
    readout = page.locator("#readout")
    assert readout.get_attribute("data-epoch") == "0" and "before training" in readout.inner_text()
    for key, epoch in (("End", SMALL.epochs), ("ArrowLeft", SMALL.epochs - 1), ("Home", 0)):
        page.keyboard.press(key)
        assert readout.get_attribute("data-epoch") == str(epoch)
        if epoch:
            shown = float(re.search(r"training loss ([\d.e+-]+)", readout.inner_text()).group(1))
            assert math.isclose(shown, run.history.loss[epoch - 1], rel_tol=1e-3)
            assert page.locator("#epoch-label").inner_text() == f"epoch {epoch} of {SMALL.epochs}"
    assert page.problems == []
    page.close()


def test_the_curves_are_the_history(browser, moons_page, run):
    page = _open(browser, moons_page)
    for series, expected in (("loss", run.history.loss), ("val_loss", run.history["val_loss"])):
        drawn, span = _polyline(page, "loss-chart", series)
        assert len(drawn) == len(expected)
        if page.locator("#loss-chart").get_attribute("data-log") == "true":
            np.testing.assert_allclose(drawn, expected, rtol=0.02)
        else:
            np.testing.assert_allclose(drawn, expected, atol=span * 2e-3)
    for l, deltas in enumerate(run.data["mean_abs_delta"]):
        drawn, _ = _polyline(page, "delta-chart", f"delta{l + 1}")
        np.testing.assert_allclose(drawn, deltas, rtol=0.02)
    page.close()


def test_play_advances_and_pauses_by_keyboard(browser, moons_page):
    page = _open(browser, moons_page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "play"
    page.keyboard.press("Enter")  # at the last epoch, play starts again from epoch 0
    _wait_until(page, "window.backpropPlayground.frameIndex() > 3")
    assert page.locator("#play").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Enter")
    stopped = page.evaluate("window.backpropPlayground.frameIndex()")
    page.wait_for_timeout(300)
    assert page.evaluate("window.backpropPlayground.frameIndex()") == stopped
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "epoch"
    page.close()


def test_a_phone_width_screen_scrolls_only_down(browser, moons_page, screenshots):
    page = _open(browser, moons_page, width=390, height=844)
    page.screenshot(path=str(screenshots / "playground-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.close()


def test_a_large_network_shows_a_summary_and_says_why(browser, tmp_path, screenshots):
    data = moons()
    wide = record_run(data.X, data.y, Settings(hidden=[40, 3], epochs=3, validation=0))
    path = tmp_path / "wide.html"
    path.write_text(playground_page(wide.data), encoding="utf-8")
    page = _open(browser, path)
    assert page.locator("#network").count() == 0
    assert "40 units" in page.locator("#network-message").inner_text()
    assert page.locator("#network-summary tbody tr").count() == 3
    page.screenshot(path=str(screenshots / "playground-large.png"), full_page=True)
    assert page.problems == []
    page.close()


def test_one_input_shows_the_fitted_curve(browser, tmp_path, screenshots):
    sine = datasets.sin(n_samples=80)
    fitted = record_run(sine.X, sine.y, Settings(hidden=[8], epochs=30), task="regression")
    path = tmp_path / "sin.html"
    path.write_text(playground_page(fitted.data), encoding="utf-8")
    page = _open(browser, path)
    assert page.locator("#plane-title").inner_text() == "Fitted curve"
    page.screenshot(path=str(screenshots / "playground-curve.png"), full_page=True)
    assert page.problems == []
    page.close()


def test_a_csv_with_one_feature_and_a_numeric_target_draws_a_curve(tmp_path, capsys):
    x = np.linspace(-3, 3, 60)
    table = tmp_path / "sine.csv"
    rows = [f"{a:.4f},{math.sin(a) * 10 + 0.123:.4f}" for a in x]
    table.write_text("x,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "sine.html"
    assert main(["playground", str(table), "--epochs", "4", "--out", str(out)]) == 0
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', out.read_text()).group(1))
    assert data["task"] == "regression" and len(data["ranges"]) == 1
    assert len(data["frames"][-1]["curve"]) == 1 and data["names"]["target"] == "y"
    refused_in_process(
        capsys, ["playground", str(tmp_path / "none.csv"), "--out", str(out)], "none.csv"
    )


CONTRAST = """(selector) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const element = document.querySelector(selector);
  let node = element, background = [255, 255, 255];
  for (; node; node = node.parentElement) {
    const colour = rgb(getComputedStyle(node).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { background = colour.slice(0, 3); break; }
  }
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_text_has_enough_contrast_and_focus_shows(browser, moons_page):
    page = _open(browser, moons_page)
    for selector in ("h1", ".summary", "#play", "label[for=epoch]", "#readout", "figcaption"):
        ratio = page.evaluate(CONTRAST, selector)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} is below WCAG AA's 4.5"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused control shows no outline"
    assert page.locator("#epoch").get_attribute("aria-valuetext").startswith("epoch ")
    page.close()
