"""Shared fixtures."""

from __future__ import annotations

import pytest

from backprop.engine.backend import fused


@pytest.fixture(params=["numpy", "numba"])
def kernels(request, monkeypatch):
    """Run a test once with the numpy optimiser kernels and once with the compiled ones."""
    if request.param == "numba":
        monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
        if not fused.enabled():
            pytest.skip("numba is not installed")
    else:
        monkeypatch.setenv("BACKPROP_NUMBA", "0")
    return request.param
