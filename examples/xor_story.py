"""Why backpropagation: one threshold unit cannot learn XOR, two layers can.

Run: python examples/xor_story.py [FOLDER]
The pictures (xor_*.png) go to FOLDER, by default backprop_examples/ in the current directory.
"""

import sys
from pathlib import Path

import backprop as bp

X, y = bp.datasets.xor()[:2]
for name, data in (("AND", bp.datasets.and_gate()), ("OR", bp.datasets.or_gate()), ("XOR", (X, y))):
    perceptron = bp.Perceptron(seed=0).fit(data[0], data[1], epochs=100)
    print(
        f"perceptron on {name}: converged={perceptron.converged}, "
        f"predictions {perceptron.predict(data[0]).tolist()} for targets {list(data[1])}"
    )

net = bp.Network([2, 4, 1], hidden="sigmoid", output="sigmoid", seed=0)
history = net.fit(X, y, epochs=5000, batch_size=None, optimizer=bp.SGD(lr=2.0))
print("two-layer network on XOR:", net.predict_classes(X).tolist(), "final loss", history.loss[-1])

try:
    import matplotlib

    matplotlib.use("Agg")
    from backprop import plot
except ImportError:
    print('pip install "backprop[plot]" for the pictures')
else:
    images = Path(sys.argv[1] if len(sys.argv) > 1 else "backprop_examples")
    images.mkdir(parents=True, exist_ok=True)
    figures = {
        "xor_perceptron.png": plot.decision_regions(
            perceptron, X, y, title="XOR: one perceptron, one straight line"
        ),
        "xor_two_layers.png": plot.decision_regions(
            net, X, y, title="XOR: a 2-4-1 sigmoid network"
        ),
        "xor_history.png": plot.history(history, title="XOR: the 2-4-1 network's loss"),
    }
    for name, figure in figures.items():
        figure.savefig(images / name, dpi=80)
    print(f"pictures: {', '.join(str(images / name) for name in figures)}")
