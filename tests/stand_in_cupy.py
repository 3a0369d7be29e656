"""A pytest plugin (``-p stand_in_cupy``) that makes ``import cupy`` give the numpy stand-in
(``fake_cupy.install``) for the whole session, so that ``tests/gpu`` runs without a GPU
(``test_gpu_suite_over_the_stand_in.py``)."""

from __future__ import annotations

import fake_cupy
import pytest

fake_cupy.install(pytest.MonkeyPatch())  # never undone: the session is the stand-in's
