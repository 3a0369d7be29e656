"""The backend's helpers: dtypes, short-row reductions and blockwise element-wise work."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop.engine import backend

special = st.sampled_from(
    [np.nan, np.inf, -np.inf, 0.0, -0.0, float(np.float32(1e30)), float(np.float32(-1e-30))]
)
values = st.one_of(st.floats(-1e6, 1e6, width=32), special)


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        st.sampled_from([np.float32, np.float64]),
        st.tuples(st.integers(1, 300), st.integers(1, 24)),  # a loop over columns, or max
        elements=values,
    )
)
def test_row_max_equals_numpy_max_along_rows(x):
    np.testing.assert_array_equal(backend.row_max(x), np.max(x, axis=1))


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        st.sampled_from([np.float32, np.float64]),
        st.tuples(st.integers(1, 200), st.integers(1, 24)),  # both sides of 64 rows
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_row_sum_equals_numpy_sum_along_rows(x):
    got = backend.row_sum(x)
    assert got.dtype == x.dtype and got.shape == (x.shape[0],)
    tolerance = 1e-4 if x.dtype == np.float32 else 1e-12
    scale = np.abs(x).sum(axis=1) + 1
    assert np.all(np.abs(got - x.sum(axis=1)) <= tolerance * scale)


@pytest.mark.parametrize("copies", [1, 40])  # a few rows, and many
def test_row_reductions_keep_non_finite_values(copies):
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [-np.inf, np.inf, 1.0]] * copies)
    with np.errstate(invalid="ignore"):  # inf − inf is NaN, as it should be
        maxima, sums = backend.row_max(x), backend.row_sum(x)
    np.testing.assert_array_equal(maxima, [np.nan, np.inf, np.inf] * copies)
    np.testing.assert_array_equal(sums, [np.nan, np.inf, np.nan] * copies)


def test_row_reductions_do_not_change_their_input():
    x = np.random.default_rng(0).normal(size=(50, 3))
    before = x.copy()
    backend.row_max(x), backend.row_sum(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.dtype("float64")])
def test_resolve_dtype(dtype):
    assert backend.resolve_dtype(dtype) == np.dtype(dtype)


@pytest.mark.parametrize("bad, error", [(None, TypeError), ("int8", ValueError), ("x", TypeError)])
def test_resolve_dtype_rejects(bad, error):
    with pytest.raises(error, match="dtype must be one of"):
        backend.resolve_dtype(bad)


def test_blockwise_passes_matrices_whole():
    seen = []

    def kernel(x, scratch):
        seen.append((x.shape, scratch.shape))

    backend.Blockwise().run(kernel, [np.zeros((3, 4))])
    assert seen == [((3, 4), (3, 4))]


def test_docstring_examples_run():
    assert doctest.testmod(backend).failed == 0
