"""Pictures saved by ``demo`` and ``explain --plot`` (matplotlib, the optional ``[plot]`` extra).

Every picture carries backprop's name in its metadata (PNG ``Software``, SVG ``Creator``) and is
written atomically. An existing file is replaced only when it is such a picture: a user's own
image, or anything else, at a picture's path is left alone and the command refused before it
starts, as are a directory that does not exist and a path that is one of the command's inputs.
"""

from __future__ import annotations

import io
import os
import re

from .._version import __version__
from ..io.atomic import atomic_write
from .errors import UsageError
from .files import Output, check_own_output

PICTURE_SUFFIXES = (".png", ".svg")
CREATOR = f"backprop {__version__}"
_SVG_CREATOR = re.compile(r"<dc:creator>\s*<cc:Agent>\s*<dc:title>backprop ")
_SVG_HEAD_BYTES = 4096


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .. import plot
    except ImportError:
        raise UsageError('pictures need matplotlib: pip install "backprop[plot]"') from None
    return matplotlib, plot


def is_backprop_picture(path: str) -> bool:
    """True when the file at ``path`` is a PNG or SVG picture that backprop drew."""
    try:
        if path.lower().endswith(".svg"):
            with open(path, "rb") as handle:
                head = handle.read(_SVG_HEAD_BYTES).decode("utf-8", errors="replace")
            return "<svg" in head and bool(_SVG_CREATOR.search(head))
        from PIL import Image  # matplotlib's own dependency

        with Image.open(path) as image:
            return image.format == "PNG" and str(image.info.get("Software", "")).startswith(
                "backprop "
            )
    except Exception:  # unreadable or not an image: not ours
        return False


def check_picture_out(option: str, path: str, inputs: dict[str, str] | None = None) -> Output:
    """A picture path to write: a .png or .svg file in an existing directory, new or ours."""
    return check_own_output(
        option, path, inputs or {}, is_backprop_picture, "a picture backprop drew", PICTURE_SUFFIXES
    )


def picture_folder(option: str, folder: str, names: list[str]) -> list[Output]:
    """The pictures ``names`` in ``folder``, each checked; the folder itself is made if missing
    (its parent must exist)."""
    if os.path.isdir(folder):
        return [check_picture_out(option, os.path.join(folder, name)) for name in names]
    if os.path.lexists(folder):
        raise UsageError(f"{option} {folder}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {folder}: the directory {parent} does not exist")
    try:
        os.mkdir(folder)
    except OSError as error:
        raise UsageError(f"{option} {folder}: cannot make it ({error.strerror})") from None
    return [check_picture_out(option, os.path.join(folder, name)) for name in names]


def save_figures(figures: dict[Output, tuple]) -> None:
    """Draw ``{picture: (plot function, arguments[, keyword arguments])}``, each atomically.

    The picture's suffix (.png or .svg) chooses the format.
    """
    matplotlib, plot = _matplotlib()
    for picture, (function, arguments, *keywords) in figures.items():
        figure = getattr(plot, function)(*arguments, **(keywords[0] if keywords else {}))
        fmt = os.path.splitext(picture.real)[1].lower().lstrip(".")
        metadata = {"Software" if fmt == "png" else "Creator": CREATOR}
        buffer = io.BytesIO()
        try:
            figure.savefig(buffer, format=fmt, metadata=metadata)
        finally:
            matplotlib.pyplot.close(figure)
        atomic_write(picture.real, buffer.getvalue())
