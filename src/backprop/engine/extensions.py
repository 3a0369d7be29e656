"""Methods of engine objects whose work is done by the layers above the engine.

``net.fit(...)``, ``net.save(path)``, ``trace.explain(...)`` and ``trace.to_html(...)`` belong to
the training loop, the model files, the worked solutions and the pages, which import the engine,
never the other way round. Each of those layers registers its function here when it is
imported (``import backprop`` imports them all), and the engine's method calls whatever is
registered.

>>> from backprop.engine.extensions import provided
>>> provided("fit").__module__
'backprop.training.loop'
"""

from __future__ import annotations

from collections.abc import Callable

_PROVIDERS: dict[str, Callable] = {}
_WHERE = {
    "fit": "backprop.training",
    "save": "backprop.io",
    "explain": "backprop.explain",
    "chain_rule": "backprop.explain",
    "to_html": "backprop.page",
}


def provide(name: str, function: Callable) -> None:
    """Register ``function`` as the implementation of the engine method ``name``."""
    if name not in _WHERE:
        raise ValueError(f"unknown extension {name!r}; known: {', '.join(sorted(_WHERE))}")
    _PROVIDERS[name] = function


def provided(name: str) -> Callable:
    """The function registered for ``name``; a clear error when its layer was never imported."""
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise RuntimeError(
            f"{name}() is implemented in {_WHERE[name]}, which is not imported; import backprop"
        ) from None
