"""Vanishing gradients: the error signal reaching the early layers of a deep sigmoid network
is orders of magnitude smaller than in the same network with ReLU units.

Run: python examples/vanishing_gradients.py [FOLDER]
The pictures (vanishing_*.png) go to FOLDER, by default backprop_examples/ in the current
directory: the mean |δ| of each layer in one backward pass at initialisation, both networks
side by side, and each network's mean |δ| per layer over 30 epochs of training.
"""

import sys
import warnings
from pathlib import Path

import backprop as bp

X, y = bp.datasets.two_moons(n_samples=300, noise=0.2, seed=0)[:2]
traces, histories = {}, {}
for hidden in ("sigmoid", "relu"):
    net = bp.Network(
        [2, 16, 16, 16, 16, 16, 2], hidden=hidden, output="softmax", loss="cross_entropy", seed=0
    )
    print(f"--- {hidden}: one backward pass at initialisation")
    traces[f"{hidden} hidden layers"] = net.backprop(X[:32], y[:32])
    print(traces[f"{hidden} hidden layers"].summary())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        histories[hidden] = net.fit(X, y, epochs=30, batch_size=32, optimizer=bp.SGD(lr=0.1))
    print("diagnosis:", [str(f) for f in histories[hidden].diagnose()] or "no problem found")

try:
    import matplotlib

    matplotlib.use("Agg")
    from backprop import plot
except ImportError:
    print('pip install "backprop[plot]" for the pictures')
else:
    images = Path(sys.argv[1] if len(sys.argv) > 1 else "backprop_examples")
    images.mkdir(parents=True, exist_ok=True)
    title = "Mean |δ| per layer at initialisation, 6-layer networks on two moons"
    figures = {"vanishing_gradients.png": plot.layer_deltas(traces, title=title)}
    for hidden, history in histories.items():
        figures[f"vanishing_{hidden}_training.png"] = plot.gradient_norms(
            history, title=f"{hidden} hidden layers: mean |δ| per layer while training"
        )
    for name, figure in figures.items():
        figure.savefig(images / name, dpi=80)
    print(f"pictures: {', '.join(str(images / name) for name in figures)}")
