"""A pytest plugin (``-p stand_in_cupy``) that makes ``import cupy`` give the numpy stand-in
(``fake_cupy``) for the whole session, with its cuBLAS and its graph captures, so that
``tests/gpu`` runs without a GPU (``test_gpu_suite_over_the_stand_in.py``)."""

from __future__ import annotations

import sys

import fake_cupy

from backprop.gpu import blas, graphs

_module = fake_cupy.make()
_module.cublas = fake_cupy.CublasLibrary()
sys.modules["cupy"] = _module
blas.load_cublas = lambda cupy: cupy.cublas
graphs.capture = fake_cupy.capturing(graphs.capture)
