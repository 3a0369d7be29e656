"""Never write a model that cannot be read back: extreme values scale without overflow, and
every model file is loaded and compared before train reports success."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli_csv import read_csv, run, write_csv
from test_cli_files import refused, snapshot

import backprop as bp
from backprop.cli import main, scaling, train_command
from backprop.io import load_with_metadata

pytest.importorskip("safetensors")

TRAIN = ["--epochs", "20", "--quiet"]


def _table(path, first, target):
    rng = np.random.default_rng(0)
    second = rng.normal(size=len(first))
    rows = [[repr(float(a)), f"{b:.4f}", t] for a, b, t in zip(first, second, target, strict=True)]
    return write_csv(path, ["a", "b", "t"], rows)


def _trained_and_usable(tmp_path, data, task):
    """train exits 0 and cleanly; info, evaluate and predict read the model it wrote."""
    out = tmp_path / "model.st"
    result = run("train", data, "--target", "t", "--out", out, *TRAIN, "--task", task)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no overflow warnings either
    info = run("info", out)
    assert info.returncode == 0 and "Traceback" not in info.stderr, info.stderr
    _, meta, tensors = load_with_metadata(out)
    for name in ("feature_mean", "feature_scale"):
        assert np.isfinite(tensors[name]).all()
    predicted = run("predict", out, data, "--out", tmp_path / "pred.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert run("evaluate", out, data).returncode == 0
    return meta, read_csv(tmp_path / "pred.csv")


def test_one_huge_feature_cell(tmp_path):
    rng = np.random.default_rng(1)
    first = rng.normal(size=50)
    first[3] = 1e300
    data = _table(tmp_path / "d.csv", first, ["x" if v > 0 else "y" for v in first])
    _trained_and_usable(tmp_path, data, "classification")


def test_a_column_at_the_float_limit(tmp_path):
    signs = np.where(np.random.default_rng(2).normal(size=50) > 0, 1.0, -1.0)
    data = _table(tmp_path / "d.csv", 1.7e308 * signs, ["x" if s > 0 else "y" for s in signs])
    _, (_, rows) = _trained_and_usable(tmp_path, data, "classification")
    assert [row[-1] for row in rows] == [row[2] for row in rows]  # the sign decides the class


def test_huge_regression_targets(tmp_path):
    first = np.random.default_rng(3).normal(size=50)
    data = _table(tmp_path / "d.csv", first, [repr(float(v) * 1e200) for v in first])
    meta, (_, rows) = _trained_and_usable(tmp_path, data, "regression")
    assert 1e199 < meta["target_scale"] < 1e201
    predictions = np.array([float(row[-1]) for row in rows])
    assert np.isfinite(predictions).all() and np.abs(predictions).max() > 1e199


def test_regression_targets_at_the_float_limit(tmp_path):
    first = np.random.default_rng(4).normal(size=40)
    data = _table(
        tmp_path / "d.csv", first, [repr(math.copysign(1.7e308, float(v))) for v in first]
    )
    meta, _ = _trained_and_usable(tmp_path, data, "regression")
    assert math.isfinite(meta["target_mean"]) and math.isfinite(meta["target_scale"])


def test_predict_refuses_a_value_too_far_out_to_scale(tmp_path):
    first = np.random.default_rng(5).normal(size=50)
    data = _table(tmp_path / "d.csv", first, ["x" if v > 0 else "y" for v in first])
    out = tmp_path / "model.st"
    assert run("train", data, "--target", "t", "--out", out, *TRAIN).returncode == 0
    far = _table(tmp_path / "far.csv", [0.5, 1e308], ["x", "x"])
    refused(
        run("predict", out, far, "--out", tmp_path / "p.csv"), "far.csv", "line 3", "'a'", "1e+308"
    )
    assert not (tmp_path / "p.csv").exists()


def test_a_model_that_does_not_read_back_is_not_saved(tmp_path, monkeypatch, capsys):
    """The file written is damaged on the way: the old model stays, the new one is removed."""
    first = np.random.default_rng(6).normal(size=40)
    data = _table(tmp_path / "d.csv", first, ["x" if v > 0 else "y" for v in first])
    out = tmp_path / "model.st"
    assert main(["train", str(data), "--target", "t", "--out", str(out), *TRAIN]) == 0
    real_save = bp.io.save

    def damaging_save(net, path, **kwargs):
        real_save(net, path, **kwargs)
        with open(path, "r+b") as handle:  # the last weight becomes NaN
            handle.seek(-4, 2)
            handle.write(np.float32(np.nan).tobytes())

    monkeypatch.setattr("backprop.cli.trained_model.save", damaging_save)
    capsys.readouterr()
    before = snapshot(tmp_path)
    status = main(["train", str(data), "--target", "t", "--out", str(out), *TRAIN, "--seed", "1"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--out {out}: the model was not saved" in err and "the new file" in err
    assert snapshot(tmp_path) == before  # the old model, and no temporary file left


def test_a_model_that_reads_back_different_is_not_saved(tmp_path, monkeypatch, capsys):
    first = np.random.default_rng(7).normal(size=40)
    data = _table(tmp_path / "d.csv", first, ["x" if v > 0 else "y" for v in first])
    real_save = bp.io.save

    def forgetful_save(net, path, metadata=None, **kwargs):
        real_save(net, path, metadata={**metadata, "target": "other"}, **kwargs)

    monkeypatch.setattr("backprop.cli.trained_model.save", forgetful_save)
    status = main(["train", str(data), "--target", "t", "--out", str(tmp_path / "m.st"), *TRAIN])
    err = capsys.readouterr().err
    assert status == 2 and "reads back with different metadata" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=30),
    st.sampled_from([1e-3, 2.0**-300, 2.0**400, 3.7e-3, 1e-100]),
)
def test_scaling_changes_no_digit_of_ordinary_data(values, factor):
    """Where nothing overflows or underflows, the result is numpy's own, bit for bit."""
    X = np.array(values, dtype=np.float64).reshape(-1, 1) * factor
    mean, scale = scaling.standardization(X)
    naive_scale = X.std(axis=0)
    naive_scale[~(naive_scale > 0)] = 1.0
    assert np.array_equal(mean, X.mean(axis=0)) and np.array_equal(scale, naive_scale)
    assert np.array_equal(scaling.standardize(X, mean, scale), (X - mean) / scale)


def test_scaling_stays_finite_at_the_float_limit():
    X = np.array([[1.7e308, 1e300], [-1.7e308, -1e-300], [1.7e308, 0.0]])
    mean, scale = scaling.standardization(X)
    Xs = scaling.standardize(X, mean, scale)
    assert np.isfinite(mean).all() and np.isfinite(scale).all() and np.isfinite(Xs).all()
    assert np.allclose(Xs.mean(axis=0), 0) and np.allclose(Xs.std(axis=0), 1)


def test_a_held_out_value_beyond_float32_is_named(tmp_path):
    """Scaled by the training rows, one held-out value is past float32's range: the cell is named
    and no model is written."""
    first = np.random.default_rng(8).normal(size=40)
    _, held_out = train_command._split(40, 0.25, 0, "d.csv")
    first[held_out[0]] = 1e300
    data = _table(tmp_path / "d.csv", first, ["x" if v > 0 else "y" for v in first])
    out = tmp_path / "model.st"
    result = run("train", data, "--target", "t", "--out", out, *TRAIN, "--validation", "0.25")
    refused(result, "d.csv", f"line {held_out[0] + 2}", "column 'a'", "float32")
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.floats(-1e300, 1e300), min_size=3, max_size=3), min_size=2, max_size=20),
    st.randoms(use_true_random=False),
)
def test_column_by_column_scaling_is_the_whole_matrix_scaling(rows, random):
    """train scales one column at a time to keep one copy of the data; the numbers are those of
    scaling the selected rows as one matrix, up to the order of summation (a column alone is
    summed pairwise, a matrix's column row by row)."""
    X = np.array(rows)
    picked = np.array(sorted(random.sample(range(len(rows)), random.randint(1, len(rows)))))
    mean, scale = scaling.standardization_of_rows(X, picked)
    whole_mean, whole_scale = scaling.standardization(X[picked])
    largest = np.abs(X[picked]).max(axis=0)  # what a rounding of either summation is relative to
    assert np.all(np.abs(mean - whole_mean) <= 1e-12 * largest)
    assert np.all(np.abs(scale - whole_scale) <= 1e-12 * (largest + whole_scale))
    Xs = scaling.standardized_rows(X, picked, mean, scale, np.float32)
    expected = scaling.standardize(X[picked], mean, scale).astype(np.float32)
    assert Xs.dtype == np.float32 and np.array_equal(Xs, expected)
