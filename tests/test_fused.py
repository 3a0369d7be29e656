"""The compiled optimiser steps (backprop.fused) against the numpy kernels they replace."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from backprop.optimizers import SGD, AdaGrad, Adam, RMSprop
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop.engine.backend import fused

needs_numba = pytest.mark.skipif(not fused.enabled(), reason="numba is not installed")

OPTIMIZERS = [
    SGD(lr=0.1),
    SGD(lr=0.1, momentum=0.9),
    SGD(lr=0.1, momentum=0.9, nesterov=True),
    Adam(lr=0.01),
    RMSprop(lr=0.01, rho=0.9),
    AdaGrad(lr=0.1, initial_accumulator=0.1),
]
# A few units in the last place of the largest entry: the two paths round in different orders,
# and an entry that cancels to near zero keeps an absolute, not a relative, error.
RTOL = {np.float32: 1e-5, np.float64: 1e-13}


def _assert_close(got, want, dtype):
    assert got.dtype == dtype
    rtol = RTOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want), initial=1))


def _train(opt, params, gradients, env):
    opt, params = copy.deepcopy(opt), params.copy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BACKPROP_NUMBA", env)
        state = opt.init(params)
        for g in gradients:
            state = opt.update(params, g, state)
    return params, [a for a in state if isinstance(a, np.ndarray)]


def _both(opt, params, gradients):
    """(params, state arrays) after the compiled steps, then after the numpy kernels."""
    return _train(opt, params, gradients, "1"), _train(opt, params, gradients, "0")


@needs_numba
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(0, 300),
    scales=st.lists(st.sampled_from([0.0, 1e-6, 1e-2, 1.0, 1e3]), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_step_equals_the_numpy_kernel(opt, dtype, size, scales, seed):
    rng = np.random.default_rng(seed)
    params = rng.normal(size=size).astype(dtype)
    gradients = [(rng.normal(size=size) * scale).astype(dtype) for scale in scales]
    (compiled, compiled_state), (numpy, numpy_state) = _both(opt, params, gradients)
    _assert_close(compiled, numpy, dtype)
    for got, want in zip(compiled_state, numpy_state, strict=True):
        _assert_close(got, want, dtype)


@needs_numba
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=repr)
def test_nan_and_inf_spread_as_in_numpy(opt):
    params = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    gradients = [np.array([np.nan, np.inf, -np.inf, 0.5], np.float32)]
    with np.errstate(invalid="ignore"):  # inf / inf in the numpy kernels
        (compiled, _), (numpy, _) = _both(opt, params, gradients)
    np.testing.assert_array_equal(np.isnan(compiled), np.isnan(numpy))
    finite = np.isfinite(numpy)
    np.testing.assert_array_equal(np.isfinite(compiled), finite)
    _assert_close(compiled[finite], numpy[finite], np.float32)


@needs_numba
def test_float32_buffers_are_updated_in_float32(monkeypatch):
    # 1 + 2⁻²⁴ rounds to 1 in float32; float64 arithmetic would keep it until the store.
    params = np.ones(2, np.float32)
    grads = np.full(2, -(2.0**-24), np.float32)
    monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
    SGD(lr=1.0).update(params, grads, SGD(lr=1.0).init(params))
    assert params.dtype == np.float32
    np.testing.assert_array_equal(params, np.ones(2, np.float32))


def test_only_flat_contiguous_numpy_buffers_of_one_float_dtype_are_accepted():
    flat = np.zeros(6)
    assert fused.accepts([flat, np.ones(6)])
    assert not fused.accepts([flat[::2], np.ones(3)])  # strided
    assert not fused.accepts([flat.reshape(2, 3), np.ones((2, 3))])  # not 1-D
    assert not fused.accepts([flat, np.ones(6, np.float32)])  # mixed dtypes
    assert not fused.accepts([flat, np.ones(5)])  # mixed lengths
    assert not fused.accepts([np.zeros(6, np.float16), np.zeros(6, np.float16)])
    assert not fused.accepts([list(flat), list(flat)])  # not arrays (a CuPy array neither)


@needs_numba
def test_kernel_for_gives_the_compiled_kernel_only_where_it_can_run(monkeypatch):
    monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
    flat = [np.zeros(6, np.float32), np.ones(6, np.float32)]
    assert fused.kernel_for("sgd", flat) is fused.compiled("sgd") is not None
    assert fused.kernel_for("sgd", [flat[0][::2], flat[1][::2]]) is None
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    assert fused.kernel_for("sgd", flat) is None


@needs_numba
def test_a_strided_buffer_takes_the_numpy_kernel_and_gets_the_same_step(monkeypatch):
    monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
    storage = np.arange(12.0)
    params, grads = storage[::2], np.full(6, 0.5)
    opt = Adam(lr=0.1)
    opt.update(params, grads, opt.init(params))
    step = 0.1 * 0.5 / (0.5 + 1e-8)  # lr·m̂ / (√v̂ + ε) on the first step
    np.testing.assert_allclose(storage[::2], np.arange(0.0, 12.0, 2.0) - step, rtol=1e-12)
    np.testing.assert_array_equal(storage[1::2], np.arange(1.0, 12.0, 2.0))  # untouched
    assert opt._scratch.array is not None  # the numpy kernel ran


def test_environment_variable_turns_the_compiled_kernels_off(monkeypatch):
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    assert not fused.enabled()
    assert fused.compiled("adam") is None
    opt = Adam()
    params = np.ones(4, np.float32)
    opt.update(params, np.ones(4, np.float32), opt.init(params))
    assert opt._scratch.array is not None


def test_missing_numba_leaves_the_numpy_kernels(monkeypatch):
    monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
    monkeypatch.setattr(fused, "_kernels", {})  # what _load() keeps when numba fails to import
    assert not fused.enabled()
    opt = RMSprop(lr=0.01)
    params = np.ones(3)
    opt.update(params, np.full(3, 0.5), opt.init(params))
    np.testing.assert_allclose(params, 1 - 0.01 * 0.5 / (np.sqrt(0.01 * 0.25) + 1e-8))


@needs_numba
def test_every_numpy_kernel_has_a_compiled_twin():
    from backprop.training.kernels import STEPS as _STEPS

    assert set(fused._load()) == set(_STEPS)


def test_without_a_writable_cache_the_kernels_are_compiled_uncached():
    class NumbaWithoutCache:
        @staticmethod
        def njit(**options):
            if options.get("cache"):
                raise RuntimeError("cannot cache function: no locator available")
            return lambda kernel: ("compiled", kernel, options)

    compiled = fused._jit(NumbaWithoutCache, fused._sgd)
    assert compiled[:2] == ("compiled", fused._sgd)
    assert compiled[2]["error_model"] == "numpy"  # no per-entry checks, so the loop vectorises


def test_describe_says_which_kernels_run(monkeypatch):
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    assert fused.describe() == "numpy (BACKPROP_NUMBA=0)"
    monkeypatch.delenv("BACKPROP_NUMBA")
    monkeypatch.setattr(fused, "_kernels", {})
    assert "pip install 'backprop[fast]'" in fused.describe()


@needs_numba
def test_describe_names_numba_and_its_version(monkeypatch):
    import numba

    monkeypatch.delenv("BACKPROP_NUMBA", raising=False)
    assert fused.describe() == f"compiled by numba {numba.__version__}"


def test_read_only_buffers_are_not_accepted():
    frozen = np.zeros(4)
    frozen.flags.writeable = False
    assert not fused.accepts([np.zeros(4), frozen])


@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("frozen", ["params", "state"])
def test_a_read_only_buffer_is_a_clear_error_and_nothing_changes(frozen):
    opt = Adam()
    params = np.ones(5, np.float32)
    state = opt.init(params)
    target = params if frozen == "params" else state.v
    target.flags.writeable = False
    grads = np.full(5, 0.5, np.float32)  # a read-only gradient is fine: it is only read
    grads.flags.writeable = False
    with pytest.raises(ValueError, match=f"{frozen} is a read-only array"):
        opt.update(params, grads, state)
    np.testing.assert_array_equal(params, 1.0)
    np.testing.assert_array_equal(state.m, 0.0)
    np.testing.assert_array_equal(state.v, 0.0)


@pytest.mark.usefixtures("kernels")
def test_a_read_only_gradient_trains():
    opt = SGD(lr=0.5)
    params, grads = np.ones(3), np.full(3, 0.5)
    grads.flags.writeable = False
    opt.update(params, grads, opt.init(params))
    np.testing.assert_allclose(params, 0.75)
