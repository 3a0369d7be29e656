"""One self-contained HTML file: styles, scripts and data inlined, nothing fetched.

``inline_page(title, body, styles, scripts, data)`` writes the page. ``styles`` and ``scripts``
name files of ``backprop/page/assets`` (read with ``asset``), inlined in the order given; ``data``
becomes the JSON of a ``<script type="application/json" id="page-data">`` that the scripts read.
A Content-Security-Policy forbids every fetch, so the page works from a ``file://`` URL, offline,
and cannot reach the network even by mistake. The page is marked as backprop's
(``<meta name="generator" content="backprop ...">``); ``is_backprop_page(path)`` reads the mark.

Assets shared by backprop's pages: ``network.js`` with ``network.css`` (``BackpropNetwork.draw``:
a layered network in SVG with labelled, selectable, highlightable units, edges and biases) and
``backprop.js`` (``BackpropMath``: forward pass, deltas, gradients and updates in float64).

>>> page = inline_page("Demo", "<p id='x'></p>", ["explain.css"], ["backprop.js"], {"n": 1})
>>> page.startswith("<!DOCTYPE html>") and '{"n":1}' in page and "<script src" not in page
True
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from .._version import __version__

GENERATOR = f"backprop {__version__}"
_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)
_MARK = '<meta name="generator" content="backprop '
_HEAD_BYTES = 4096


def asset(name: str) -> str:
    """The text of ``backprop/page/assets/<name>``.

    >>> "BackpropNetwork" in asset("network.js")
    True
    """
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _inert(text: str) -> str:
    """Text safe inside a <script> or <style> element: no closing tag can end it early."""
    return text.replace("</", "<\\/")


def inline_page(
    title: str, body: str, styles: list[str], scripts: list[str], data: dict | None = None
) -> str:
    """The complete HTML of a page with ``body`` and every asset inlined; see the module."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{html.escape(GENERATOR)}">',
        f"<title>{html.escape(title)}</title>",
        *(f"<style>\n{_inert(asset(name))}</style>" for name in styles),
        "</head>",
        "<body>",
        body,
    ]
    if data is not None:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        payload = _inert(text)
        parts.append(f'<script type="application/json" id="page-data">{payload}</script>')
    parts += [f"<script>\n{_inert(asset(name))}</script>" for name in scripts]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def is_backprop_page(path: str | Path) -> bool:
    """True when the file at ``path`` is an HTML page that backprop wrote.

    >>> is_backprop_page("/nonexistent.html")
    False
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return head.startswith("<!DOCTYPE html>") and _MARK in head
