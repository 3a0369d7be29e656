"""Devices by name: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, and the backends behind them.

``device="cpu"`` is the numpy backend. ``device="cuda"`` (GPU 0) and ``device="cuda:N"`` are
optional devices: the package that provides each is named here with the library it needs and
how to install it, and is imported only when the device is asked for, so the engine imports
no GPU code. A device that cannot be used raises ``DeviceUnavailable`` (a ``RuntimeError``)
with one line saying what is missing, never an ``ImportError`` traceback. A registered
backend's name (``"numpy"``) or a ``Backend`` is accepted as a device too.

>>> from backprop.engine.backend.devices import device_backend
>>> device_backend("cpu")
NumpyBackend('numpy')
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from .base import Backend, get_backend


class DeviceUnavailable(RuntimeError):
    """The device asked for cannot be used here: its library is missing or it has no GPU."""


@dataclass(frozen=True)
class OptionalDevice:
    """A device whose backend lives in an optional package, imported on first use."""

    module: str
    """The package whose ``device_backend(index)`` returns the backend of device ``index``."""
    library: str
    install: str


OPTIONAL_DEVICES = {
    "cuda": OptionalDevice("backprop.gpu", "CuPy", 'pip install "backprop[gpu]"'),
}
_INDEXED = re.compile(r"^(?P<kind>[a-z]+)(?::(?P<index>\d+))?$")


def device_backend(device: str | Backend) -> Backend:
    """The backend of ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, a backend's name, or a
    ``Backend``. Raises ``DeviceUnavailable`` for a device this machine cannot use and
    ``ValueError`` for a name that is no device."""
    if isinstance(device, Backend):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a name such as 'cpu' or 'cuda', got {device!r}")
    name = device.strip().lower()
    if name == "cpu":
        return get_backend("numpy")
    match = _INDEXED.match(name)
    if match is not None and match["kind"] in OPTIONAL_DEVICES:
        index = int(match["index"] or 0)
        return _optional_backend(device, OPTIONAL_DEVICES[match["kind"]], index)
    try:
        return get_backend(device)
    except ValueError:
        known = ", ".join(["cpu", *(f"{kind}[:N]" for kind in OPTIONAL_DEVICES)])
        raise ValueError(f"unknown device {device!r}; known: {known}") from None


def _optional_backend(device: str, entry: OptionalDevice, index: int) -> Backend:
    try:
        provider = importlib.import_module(entry.module)
        return provider.device_backend(index)
    except ImportError:
        raise DeviceUnavailable(
            f"device={device!r} needs {entry.library}: {entry.install}"
        ) from None
