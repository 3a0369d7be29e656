"""``backprop train`` on a smaller table: the recipe's cross-validated ensemble, its report,
its record in the model file, and the options that choose one network instead."""

import argparse
import csv
import re

import numpy as np
import pytest
from cli_runs import ok, refused, run, write_blobs, write_curve

import backprop.cli.train_search as train_search
from backprop.cli import main
from backprop.cli.pictures import is_backprop_picture
from backprop.cli.train_search import ENSEMBLE_BELOW_ROWS, ensemble_folds, held_out_fraction
from backprop.io import load_with_metadata

pytest.importorskip("safetensors")


def train(table, model, *options) -> str:
    """``backprop train`` on one of the ``tables`` fixture's files, its output once it exits 0."""
    target = "label" if table.name == "blobs.csv" else "y"
    return ok("train", table, "--target", target, "--out", model, *options)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """200 rows of three classes in four features, and 120 rows of a noisy line."""
    folder = tmp_path_factory.mktemp("folds")
    blobs = folder / "blobs.csv"
    write_blobs(blobs, 200, 2.5)
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 120)
    line = folder / "line.csv"
    write_curve(line, x, 2 * x + rng.normal(0, 0.1, 120))
    return blobs, line


def training(model):
    net, meta, _ = load_with_metadata(str(model))
    return net, meta["training"]


def test_a_small_table_trains_a_cross_validated_ensemble(tables, tmp_path):
    model, picture = tmp_path / "m.safetensors", tmp_path / "curves.png"
    out = train(tables[0], model, "--plot", picture)
    net, record = training(model)
    assert record["folds"] == 5 and record["validation"] == 0.0
    assert record["n_train"] == 200 and record["n_validation"] == 0
    assert (
        record["kept"]
        == "the ensemble of the 5 fold networks, their outputs averaged (one network)"
    )
    hidden = record["hidden"]
    assert net.sizes == [4, *hidden * 5, 3]
    assert [len(record["outcome"][key]) for key in ("epochs_run", "best_epoch", "stopped")] == [
        5
    ] * 3
    assert len(record["final_loss"]) == 5
    assert record["scores"]["part"] == "cross-validated"
    assert f"on each of 5 folds; kept {record['kept']}" in out
    assert "training: 5 fold networks, " in out
    shown = re.search(r"cross-validated accuracy (\S+)% \(95% CI .*; (\d+) of 200 correct\)", out)
    assert shown and float(shown[1]) / 100 == pytest.approx(record["scores"]["accuracy"], abs=1e-4)
    assert record["scores"]["accuracy"] > 0.85  # chance: 1/3
    assert (
        "over the 200 training rows, each predicted by the fold network that did not train" in out
    )
    assert is_backprop_picture(str(picture))


def test_the_ensemble_predicts_as_its_accuracy_says(tables, tmp_path):
    model, predictions = tmp_path / "m.safetensors", tmp_path / "p.csv"
    train(tables[0], model, "--quiet")
    ok("predict", model, tables[0], "--out", predictions)
    with open(predictions, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert np.mean([row["prediction"] == row["label"] for row in rows]) > 0.85


def test_a_regression_table_reports_the_cross_validated_r2(tables, tmp_path):
    model = tmp_path / "m.safetensors"
    out = train(tables[1], model, "--quiet")
    _, record = training(model)
    assert record["folds"] == 5 and record["scores"]["part"] == "cross-validated"
    assert record["scores"]["r2"] > 0.9
    assert "cross-validated R² " in out


def test_folds_0_trains_one_network_stopped_by_held_out_rows(tables, tmp_path):
    model = tmp_path / "m.safetensors"
    out = train(tables[0], model, "--folds", "0", "--quiet")
    net, record = training(model)
    assert net.n_layers == len(record["hidden"]) + 1 and "folds" not in record
    assert record["validation"] == 0.1 and record["n_validation"] == 20
    assert "kept" not in record and isinstance(record["outcome"]["best_epoch"], int)
    assert "on the 20 validation rows held out of 200 (they also chose when to stop)" in out


def test_held_out_rows_asked_for_are_scored_by_the_ensemble(tables, tmp_path):
    model = tmp_path / "m.safetensors"
    out = train(tables[0], model, "--validation", "0.2", "--folds", "3", "--quiet")
    net, record = training(model)
    assert record["folds"] == 3 and net.sizes == [4, *record["hidden"] * 3, 3]
    assert record["n_train"] == 160 and record["n_validation"] == 40
    assert record["scores"]["part"] == "validation"
    assert (
        "on the 40 validation rows held out of 200 (no network trained or stopped on them)" in out
    )


def test_a_checkpoint_trains_one_network(tables, tmp_path):
    model, checkpoint = tmp_path / "m.safetensors", tmp_path / "ckpt"
    train(tables[0], model, "--checkpoint", checkpoint, "--quiet")
    net, record = training(model)
    assert net.n_layers == len(record["hidden"]) + 1 and record["n_validation"] == 20


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            ["--folds", "5", "--checkpoint", "{tmp}/c"],
            "--checkpoint holds one network's training: it cannot be combined with --folds 5",
        ),
        (["--folds", "1"], "--folds must be 0 (no folds) or >= 2, got 1"),
        (["--folds", "300"], "--folds 300 needs at least 300 training rows, not 200"),
        (["--validation", "1.5"], "--validation must be in [0, 1), got 1.5"),
    ],
)
def test_bad_fold_options_are_refused(tables, tmp_path, options, expected):
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    result = run("train", tables[0], "--target", "label", "--out", tmp_path / "m.st", *options)
    refused(result, expected)
    assert not (tmp_path / "m.st").exists()


def _args(**given):
    options = {"search": None, "folds": None, "checkpoint": None, "validation": None, "keep": None}
    return argparse.Namespace(**{**options, **given})


def test_which_tables_get_an_ensemble_and_what_they_hold_out():
    assert ensemble_folds(_args(), ENSEMBLE_BELOW_ROWS - 1) == 5
    assert ensemble_folds(_args(), ENSEMBLE_BELOW_ROWS) == 0
    assert ensemble_folds(_args(folds=3), ENSEMBLE_BELOW_ROWS * 10) == 3
    assert ensemble_folds(_args(checkpoint="c"), 100) == 0
    assert ensemble_folds(_args(search="2m", folds=5), 100) == 0  # the search's own folds
    assert held_out_fraction(_args(), 5, 100) == 0.0 and held_out_fraction(_args(), 0, 100) == 0.1
    assert held_out_fraction(_args(validation=0.25), 5, 100) == 0.25


def test_what_a_search_holds_out():
    """A search keeping its fold networks (``--keep ensemble``) holds nothing out; one that
    refits, or scores its trials on held-out rows, holds out 10%."""
    below, above = ENSEMBLE_BELOW_ROWS - 1, ENSEMBLE_BELOW_ROWS
    assert held_out_fraction(_args(search="2m"), 0, below) == 0.0
    assert held_out_fraction(_args(search="2m", keep="ensemble"), 0, below) == 0.0
    assert held_out_fraction(_args(search="2m"), 0, above) == 0.1
    assert held_out_fraction(_args(search="2m", folds=3), 0, above * 10) == 0.0
    assert held_out_fraction(_args(search="2m", folds=0), 0, below) == 0.1
    for keep in ("average", "refit"):
        assert held_out_fraction(_args(search="2m", keep=keep), 0, below) == 0.1
    assert held_out_fraction(_args(search="2m", validation=0.2), 0, below) == 0.2


def test_an_interrupted_ensemble_saves_nothing(tables, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_search, "fit_cross_validated", interrupted)
    out = tmp_path / "m.st"
    assert main(["train", str(tables[0]), "--target", "label", "--out", str(out), "--quiet"]) == 130
    assert "before the 5 fold networks were trained; nothing was saved" in capsys.readouterr().err
    assert not out.exists()


def test_a_diverging_fold_network_is_one_line_naming_the_data(tables, tmp_path, capsys):
    out = tmp_path / "m.st"
    options = ["--lr", "1e30", "--quiet", "--folds", "2"]
    assert main(["train", str(tables[1]), "--target", "y", "--out", str(out), *options]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"backprop: error: {tables[1]}: ")
    assert error[0].endswith("Try a smaller --lr.") and not out.exists()
