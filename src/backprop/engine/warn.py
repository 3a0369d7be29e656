"""Warnings that point at the user's line, not at the library's.

A warning raised deep inside ``fit`` is only useful if Python reports the line of the caller
that started the work. ``warn_at_caller`` walks up the stack past every frame in the packages
named (``backprop`` itself, and for the estimators ``sklearn``, whose decorators wrap ``fit``)
and warns with the stack level of the first frame outside them.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn_at_caller("look here", UserWarning)
>>> caught[0].filename.endswith(".py") or caught[0].filename.startswith("<doctest")
True
"""

from __future__ import annotations

import os
import sys
import warnings

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _package_dirs(packages: tuple[str, ...]) -> tuple[str, ...]:
    dirs = []
    for name in packages:
        if name == "backprop":
            dirs.append(_PACKAGE_ROOT)
            continue
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            dirs.append(os.path.dirname(os.path.abspath(path)))
    return tuple(directory + os.sep for directory in dirs)


def caller_stacklevel(packages: tuple[str, ...] = ("backprop",)) -> int:
    """The ``stacklevel`` that makes a warning issued by our caller point outside ``packages``."""
    inside = _package_dirs(packages)
    frame = sys._getframe(1)  # whoever called us: stacklevel 1 from warnings.warn's view
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame = frame.f_back
        level += 1
    return level


def warn_at_caller(
    message: str, category: type[Warning], packages: tuple[str, ...] = ("backprop",)
) -> None:
    """``warnings.warn`` with the stack level of the first frame outside ``packages``."""
    warnings.warn(message, category, stacklevel=caller_stacklevel(packages))
