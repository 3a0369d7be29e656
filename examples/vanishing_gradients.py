"""Vanishing gradients: the error signal reaching the early layers of a deep sigmoid network
is orders of magnitude smaller than in the same network with ReLU units.

Run: python examples/vanishing_gradients.py [FOLDER]
The pictures (vanishing_*.png) go to docs/images, or to FOLDER.
"""

import sys
import warnings
from pathlib import Path

import backprop as bp

X, y = bp.datasets.two_moons(n_samples=300, noise=0.2, seed=0)[:2]
histories = {}
for hidden in ("sigmoid", "relu"):
    net = bp.Network(
        [2, 16, 16, 16, 16, 16, 2], hidden=hidden, output="softmax", loss="cross_entropy", seed=0
    )
    print(f"--- {hidden}: one backward pass at initialisation")
    print(net.backprop(X[:32], y[:32]).summary())
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
    default = Path(__file__).resolve().parents[1] / "docs" / "images"
    images = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    images.mkdir(parents=True, exist_ok=True)
    for hidden, history in histories.items():
        plot.gradient_norms(history).savefig(images / f"vanishing_{hidden}.png", dpi=70)
