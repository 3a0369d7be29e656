"""The GPU tests run only where CuPy imports and sees a CUDA GPU; elsewhere every test here is
skipped, saying why (``python -m pytest tests/gpu`` on a GPU machine runs them)."""

from __future__ import annotations

import pytest


def _why_not() -> str | None:
    try:
        import cupy
    except Exception as error:  # not installed, or its CUDA libraries do not load
        return f"the GPU tests need CuPy ({type(error).__name__}: {error})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        return f"the GPU tests need a CUDA GPU ({type(error).__name__})"
    return None if count > 0 else "the GPU tests need a CUDA GPU (none found)"


WHY_NOT = _why_not()


def pytest_collection_modifyitems(config, items):
    if WHY_NOT is None:
        return
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.skip(reason=WHY_NOT))


@pytest.fixture(scope="session")
def cupy():
    import cupy

    return cupy


@pytest.fixture(scope="session")
def gpu(cupy):
    """The backend of GPU 0, as ``device="cuda"`` finds it."""
    import backprop as bp

    return bp.Network([1, 1], device="cuda").backend
