"""The training view: one self-contained HTML page that replays a recorded training run.

The page holds everything inline (styles, script, the run as JSON) and a Content-Security-Policy
that forbids every fetch, so it opens from ``file://`` and offline. It is written by
``html.inline_page``, whose ``<meta name="generator">`` mark ``is_backprop_page`` reads back so
that only such pages are replaced.

>>> import numpy as np
>>> from backprop.page.playground_data import Settings, record_run
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
>>> run = record_run(X, np.array([0, 1, 1, 0] * 5), Settings(hidden=[3], epochs=2))
>>> html = playground_page(run.data)
>>> head = html.split("<body")[0]
>>> html.startswith("<!DOCTYPE html>") and GENERATOR in head and "http:" not in head
True
"""

from __future__ import annotations

import html
import os

from ..io.atomic import atomic_write
from .html import GENERATOR, inline_page


def _describe(data: dict) -> tuple[str, str]:
    """(the page title, one line saying what was trained and how)."""
    names, s = data["names"], data["settings"]
    dataset = names.get("dataset", "data")
    sizes = "-".join(map(str, data["sizes"]))
    title = f"Training {sizes} on {dataset}"
    batch = "the whole set" if s["batch_size"] is None else f"batches of {s['batch_size']}"
    held = f", {s['validation']:.0%} held out for validation" if s["validation"] else ""
    line = (
        f"A {sizes} network ({s['activation']} hidden units, {data['activations'][-1]} output, "
        f"{data['loss_name']} loss) trained for {data['epochs']} epochs by {s['optimizer']} "
        f"(learning rate {s['lr']:g}, {batch}), seed {s['seed']}; "
        f"{data['points']['total']} samples{held}."
    )
    return title, line


def _plane_caption(data: dict) -> str:
    features = data["names"].get("features", ["x₁", "x₂"][: len(data["ranges"])])
    if len(data["ranges"]) == 1:
        what = (
            "probability of each class"
            if data["task"] == "classification"
            else f"the fitted {data['names'].get('target', 'y')}"
        )
        return f"The network's answer along {features[0]}: {what}. "
    if data["task"] == "classification":
        how = "Each region takes the colour of the class predicted there, paler where less sure."
    else:
        low, high = data["value_range"]
        target = data["names"].get("target", "value")
        how = f"Colour: the predicted {target}, vermillion ({low:.4g}), white, blue ({high:.4g})."
    return f"{_plane_title(data)} over {features[0]} (across) and {features[1]} (up). {how} "


def _plane_title(data: dict) -> str:
    if len(data["ranges"]) == 1:
        return "Fitted curve"
    return "Decision regions" if data["task"] == "classification" else "Predictions"


def _body(data: dict) -> str:
    title, line = _describe(data)
    command = data["names"].get("command")
    replay = f"<p>Replay it: <code>{html.escape(command)}</code></p>" if command else ""
    points = "Filled dots: training samples; rings: validation samples."
    return f"""<header>
<h1>{html.escape(title)}</h1>
<p class="summary">{html.escape(line)}</p>
{replay}
</header>
<div class="controls" role="group" aria-label="Epoch">
<button id="play" type="button" aria-pressed="false" aria-controls="readout">Play</button>
<label for="epoch">Epoch</label>
<input id="epoch" type="range" min="0" max="0" step="1" value="0">
<span id="epoch-label" aria-hidden="true"></span>
<p id="readout" aria-live="polite"></p>
</div>
<main class="views">
<figure>
<h2 id="plane-title">{_plane_title(data)}</h2>
<canvas id="plane" width="480" height="480" role="img" aria-labelledby="plane-title"></canvas>
<ul class="legend" id="plane-legend"></ul>
<figcaption>{html.escape(_plane_caption(data) + points)}</figcaption>
</figure>
<figure>
<h2 id="loss-title">Loss</h2>
<svg id="loss-chart" role="img" aria-labelledby="loss-title"></svg>
<ul class="legend" id="loss-legend"></ul>
<figcaption>The mean error {html.escape(data["loss_name"])} per epoch; the dashed vertical line
marks the epoch shown. A loss that falls a hundredfold or more is drawn on a log scale.
</figcaption>
</figure>
<figure>
<h2 id="delta-title">Mean |δ| per layer</h2>
<svg id="delta-chart" role="img" aria-labelledby="delta-title"></svg>
<ul class="legend" id="delta-legend"></ul>
<figcaption>Each layer's mean |δ| over all the training samples after each epoch, on a log
scale. Vanishing gradients show here: the layers nearest the input far below the output
layer.</figcaption>
</figure>
<figure>
<h2 id="network-title">The network</h2>
<svg id="network" role="img" aria-labelledby="network-title"></svg>
<div id="network-summary" hidden>
<p id="network-message"></p>
<table><thead><tr><th scope="col">layer</th><th scope="col">units</th>
<th scope="col">activation</th><th scope="col">mean |W|</th></tr></thead><tbody></tbody></table>
</div>
<figcaption id="network-caption">Weights in blue are positive, in vermillion negative; thicker
is larger. A unit's fill is its bias on the same scale.</figcaption>
</figure>
</main>
<footer>Written by {html.escape(GENERATOR)}. This page is self-contained and needs no network.
</footer>"""


def playground_page(data: dict) -> str:
    """The training view of a run recorded by ``playground_data.record_run``."""
    title, _ = _describe(data)
    return inline_page(title, _body(data), ["playground.css"], ["playground.js"], data)


def write_playground(data: dict, path: str | os.PathLike) -> None:
    """Write the training view to ``path`` atomically (the caller checks what it replaces)."""
    atomic_write(path, playground_page(data).encode("utf-8"))
