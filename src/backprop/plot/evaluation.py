"""Pictures of a model's errors on labelled data: the confusion matrix.

>>> import matplotlib; matplotlib.use("Agg")
>>> import numpy as np
>>> from backprop.plot import confusion_matrix
>>> figure = confusion_matrix(np.array([[5, 1], [0, 4]]), ["no", "yes"])
>>> figure.axes[0].get_xlabel()
'predicted class'
"""

from __future__ import annotations

import numpy as np

from .style import figure, text_colour_on


def confusion_matrix(counts, classes, title: str | None = None):
    """The counts of each true class (rows) predicted as each class (columns), each cell shaded
    by its share of the true class's rows and labelled with its count."""
    counts = np.asarray(counts)
    k = len(classes)
    if counts.shape != (k, k):
        raise ValueError(f"counts must be {k}x{k} for {k} classes, got shape {counts.shape}")
    size = min(3.0 + 0.45 * k, 12.0)
    fig, ax = figure(size + 1.2, size)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    cmap = image.get_cmap()
    for i in range(k):
        for j in range(k):
            colour = text_colour_on(cmap(shares[i, j]))
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 6 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"confusion matrix ({int(counts.sum())} rows)")
    return fig
