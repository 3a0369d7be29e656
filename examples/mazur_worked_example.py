"""Matt Mazur's worked example, one iteration written out, and its picture.

As on his page the weights learn and the biases stay fixed (``train_bias=False``). Computed
exactly, the error is 0.291027774 after one update and 0.0000351019 after 10,000. His page
prints 0.291027924 after one update because it computes the hidden deltas with the output
weights it has already updated (w5..w8 after the step, not before); his 0.0000351085 after
10,000 updates is this computation's error after 9,999. Learners who reproduce his page by
hand meet exactly these two differences.

Run: python examples/mazur_worked_example.py [FOLDER]
The picture (mazur_network.png) goes to FOLDER, by default backprop_examples/ in the current
directory.
"""

import sys
from pathlib import Path

import backprop as bp

X, Y = [[0.05, 0.10]], [[0.01, 0.99]]
net = bp.Network(
    [2, bp.Layer(2, "sigmoid", train_bias=False), bp.Layer(2, "sigmoid", train_bias=False)],
    loss="squared",
    dtype="float64",
)
net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]
net.layers[1].b = [0.35, 0.35]
net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]
net.layers[2].b = [0.60, 0.60]

trace = net.backprop(X, Y)
print(trace.explain(lr=0.5, precision=9))
print(bp.explain.render([trace.chain_rule(1, 0, 0)], precision=9))  # w1, factor by factor

net.fit(X, Y, epochs=1, batch_size=None, optimizer=bp.SGD(lr=0.5))
print(f"error after 1 update:      {net.backprop(X, Y).loss:.9f}  (his page: 0.291027924)")
net.fit(X, Y, epochs=9_999, batch_size=None, optimizer=bp.SGD(lr=0.5), warn=False)
print(f"error after 10,000 updates: {net.backprop(X, Y).loss:.10f}  (his page: 0.0000351085)")

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
