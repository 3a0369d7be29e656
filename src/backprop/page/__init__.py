"""Pages: backpropagation shown in one self-contained HTML file, opened in any browser.

``to_html(trace, path, lr, iterations=1, precision=6)`` (also ``trace.to_html(path, lr=...)``
and ``backprop explain ... --html PAGE.html``) writes the worked iterations as a page to step
through; see ``backprop.page.explain_page``. ``backprop.page.html`` inlines a page's assets.

>>> import os, tempfile, backprop as bp
>>> trace = bp.Network([2, 2, 1], seed=0, dtype="float64").backprop([[1.0, 0.0]], [[1.0]])
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = trace.to_html(os.path.join(tmp, "iteration.html"), lr=0.5, iterations=3)
...     print(path.name, is_backprop_page(path))
iteration.html True
"""

from __future__ import annotations

from ..engine.extensions import provide
from .explain_page import (
    ACTIVATIONS,
    LOSSES,
    MAX_ITERATIONS,
    MAX_LAYERS,
    MAX_UNITS,
    check_drawable,
    explain_html,
    page_data,
    to_html,
)
from .html import asset, inline_page, is_backprop_page

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MAX_ITERATIONS",
    "MAX_LAYERS",
    "MAX_UNITS",
    "asset",
    "check_drawable",
    "explain_html",
    "inline_page",
    "is_backprop_page",
    "page_data",
    "to_html",
]

provide("to_html", to_html)
