"""What every picture shares: matplotlib, the figure, the class colours and readable text.

>>> import matplotlib; matplotlib.use("Agg")
>>> from backprop.plot.style import class_colour, region_colour
>>> class_colour(1), [round(c, 2) for c in region_colour(1)]
('#d62728', [0.94, 0.7, 0.7])
"""

from __future__ import annotations

try:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError('backprop.plot needs matplotlib: pip install "backprop[plot]"') from error

# One colour per class label, the same in every picture: class 0 blue, class 1 red, …
CLASS_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
REGION_TINT = 0.35  # a region is its class colour mixed with this much of itself, the rest white
CURVE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")

__all__ = ["plt", "figure", "class_colour", "region_colour", "text_colour_on", "CLASS_COLOURS"]


def figure(width: float = 7.0, height: float = 4.5):
    """A new figure with one axes, laid out so that labels and legends are not cut off."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def class_colour(label: int) -> str:
    """The colour of class ``label``: its samples, its legend entry, its region (tinted)."""
    return CLASS_COLOURS[label]


def region_colour(label: int) -> tuple[float, float, float]:
    """The light colour painting the region where the network predicts class ``label``."""
    red, green, blue = to_rgb(class_colour(label))
    return tuple(1 - REGION_TINT * (1 - c) for c in (red, green, blue))


def text_colour_on(face) -> str:
    """Black on light fills, white on dark ones (by the fill's luma)."""
    red, green, blue = to_rgb(face)
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
