"""Matt Mazur's worked example, one iteration written out, and its picture.

Run: python examples/mazur_worked_example.py [FOLDER]
The picture (mazur_network.png) goes to FOLDER, by default backprop_examples/ in the current
directory.
"""

import sys
from pathlib import Path

import backprop as bp

net = bp.Network([2, 2, 2], hidden="sigmoid", output="sigmoid", loss="squared", dtype="float64")
net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]
net.layers[1].b = [0.35, 0.35]
net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]
net.layers[2].b = [0.60, 0.60]

trace = net.backprop([[0.05, 0.10]], [[0.01, 0.99]])
print(trace.explain(lr=0.5, precision=9))

try:
    import matplotlib

    matplotlib.use("Agg")
    from backprop import plot
except ImportError:
    print('pip install "backprop[plot]" for the picture')
else:
    images = Path(sys.argv[1] if len(sys.argv) > 1 else "backprop_examples")
    images.mkdir(parents=True, exist_ok=True)
    plot.network(trace).savefig(images / "mazur_network.png", dpi=100)
    print(f"picture: {images / 'mazur_network.png'}")
