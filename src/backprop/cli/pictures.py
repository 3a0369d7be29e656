"""Pictures saved by ``demo`` and ``explain --plot`` (matplotlib, the optional ``[plot]`` extra)."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError


def save_figures(folder: str, figures: dict) -> None:
    """Draw ``{file name: (plot function, arguments[, keyword arguments])}`` into ``folder``.

    The file name's suffix (.png or .svg) chooses the format.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .. import plot
    except ImportError:
        raise UsageError('pictures need matplotlib: pip install "backprop[plot]"') from None
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, (function, arguments, *keywords) in figures.items():
        figure = getattr(plot, function)(*arguments, **(keywords[0] if keywords else {}))
        figure.savefig(target / name)
        matplotlib.pyplot.close(figure)
