"""``backprop train``'s recipe, ``--search``, ``--plot`` and ``evaluate``'s reports."""

import csv
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runs import environment, ok, refused, run, write_blobs, write_curve
from processes import interruptible

from backprop.cli.reports import (
    confusion_counts,
    kept_trials_training_line,
    per_class_scores,
    wilson_interval,
)
from backprop.cli.search import EARLIER_TRIAL_COLUMNS, TRIAL_COLUMNS, _trial_row
from backprop.io import load_with_metadata
from backprop.training.cross_validation import stratified_folds

pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """300 rows, 3 classes, 4 features; and a regression table."""
    folder = tmp_path_factory.mktemp("search")
    path = folder / "blobs.csv"
    write_blobs(path, 300, 2.0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 200)
    curve = folder / "curve.csv"
    write_curve(curve, x, np.sin(x))
    model = folder / "blobs.safetensors"
    ok("train", path, "--target", "label", "--out", model, "--quiet", "--plot", folder / "c.png")
    return folder, path, curve, model


def test_default_train_reports_and_stores_every_choice(blobs):
    folder, path, _, model = blobs
    _, meta, _ = load_with_metadata(str(model))
    training = meta["training"]
    recipe = training["recipe"]
    assert set(recipe) >= {"hidden", "lr", "weight_decay", "dropout", "batch_size", "patience"}
    assert recipe["max_epochs"] == training["epochs"] and recipe["time_limit"] == 600.0
    outcome = training["outcome"]  # each of the 5 fold networks' (300 rows: an ensemble)
    assert set(outcome["stopped"]) <= {"early stopping", "time limit", "max epochs"}
    assert len(outcome["stopped"]) == len(outcome["best_epoch"]) == training["folds"] == 5
    for best, epochs in zip(outcome["best_epoch"], outcome["epochs_run"], strict=True):
        assert 1 <= best <= epochs
    low, high = training["scores"]["accuracy_ci95"]
    assert low <= training["scores"]["accuracy"] <= high
    info = ok("info", model)
    assert '"weight_decay": 0.01' in info and '"stopped": ' in info


def test_summary_names_the_recipe_and_the_interval(blobs, tmp_path):
    _, path, _, _ = blobs
    out = ok("train", path, "--target", "label", "--out", tmp_path / "m.safetensors", "--quiet")
    assert "recipe: hidden 64 relu dropout 0.2, adam lr 0.002" in out
    assert "weights of epochs" in out and "95% CI" in out
    _, meta, _ = load_with_metadata(str(tmp_path / "m.safetensors"))
    correct, n = meta["training"]["scores"]["accuracy"] * 300, 300  # every row, out of fold
    assert meta["training"]["scores"]["accuracy_ci95"] == pytest.approx(
        list(wilson_interval(round(correct), n))
    )


def test_options_override_the_recipe(blobs, tmp_path):
    _, path, _, _ = blobs
    model = tmp_path / "m.safetensors"
    ok(
        "train", path, "--target", "label", "--out", model, "--quiet", "--hidden", "7,5",
        "--epochs", "4", "--weight-decay", "0", "--dropout", "0", "--class-weight", "balanced",
    )  # fmt: skip
    recipe = load_with_metadata(str(model))[1]["training"]["recipe"]
    assert (recipe["hidden"], recipe["max_epochs"], recipe["weight_decay"]) == ([7, 5], 4, 0.0)
    assert (recipe["dropout"], recipe["class_weight"]) == (0.0, "balanced")


def test_wilson_interval_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(274, 400).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(274, 400) == pytest.approx((ci.low, ci.high), rel=1e-6)


def test_learning_curves_picture(blobs):
    from backprop.cli.pictures import is_backprop_picture

    assert is_backprop_picture(str(blobs[0] / "c.png"))


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--search", "soon"], "--search must be a duration"),
        (["--search", "0s"], "--search must be a duration"),
        (["--time-limit=-1m"], "--time-limit must be a duration"),
        (["--search", "2s", "--validation", "0", "--folds", "0"], "--validation must be > 0"),
        (["--search", "2s", "--validation", "0", "--keep", "refit"], "--validation must be > 0"),
        (["--dropout", "1"], "--dropout must be in [0, 1)"),
        (["--class-weight", "even"], "invalid choice"),
        (["--search", "2s", "--folds", "1"], "--folds must be 0 (no folds) or >= 2"),
        (["--search", "2s", "--folds", "-3"], "--folds must be 0 (no folds) or >= 2"),
        (["--search", "2s", "--folds", "500"], "--folds 500 needs at least 500 training rows"),
        (["--keep", "average"], "--keep chooses what --search keeps: give --search BUDGET too"),
        (["--search", "2s", "--keep", "soup"], "invalid choice"),
        (
            ["--search", "2s", "--folds", "0", "--keep", "refit"],
            "--keep refit chooses among fold networks: the search scores on the held-out rows",
        ),
    ],
)
def test_bad_options_are_refused(blobs, tmp_path, options, expected):
    result = run("train", blobs[1], "--target", "label", "--out", tmp_path / "m.st", *options)
    refused(result, expected)
    assert not (tmp_path / "m.st").exists()


def test_search_saves_the_best_and_the_trials(blobs, tmp_path):
    _, path, _, _ = blobs
    model = tmp_path / "best.safetensors"
    result = run("train", path, "--target", "label", "--out", model, "--search", "4s")
    assert result.returncode == 0, result.stderr
    assert "search: trial 0 complete" in result.stderr
    assert "trials written to" in result.stdout
    with open(tmp_path / "best.trials.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TRIAL_COLUMNS and len(rows) >= 2
    meta = load_with_metadata(str(model))[1]["training"]
    search = meta["search"]
    assert search["library"] == "optuna" and search["trials"] == len(rows) - 1
    best = rows[1 + search["best_trial"]]
    scores = [float(row[2]) for row in rows[1:] if row[2]]
    assert float(best[2]) == pytest.approx(max(scores), abs=1e-6)
    assert best[3] == "-".join(map(str, meta["recipe"]["hidden"]))
    assert float(best[5]) == pytest.approx(meta["recipe"]["lr"], rel=1e-5)


@pytest.mark.parametrize("folds, score", [(None, "5-fold cross-validated"), ("0", "validation")])
def test_search_scores_by_folds_on_small_sets_or_by_the_held_out_rows(
    blobs, tmp_path, folds, score
):
    model = tmp_path / "m.safetensors"
    options = [] if folds is None else ["--folds", folds]
    argv = ("train", blobs[1], "--target", "label", "--out", model, "--search", "3s", *options)
    result = run(*argv)
    assert result.returncode == 0, result.stderr
    out, err = result.stdout, result.stderr
    search = load_with_metadata(str(model))[1]["training"]["search"]
    assert search["folds"] == (5 if folds is None else 0)
    assert search["score"] == f"{score} accuracy"
    assert f"{score} accuracy {search['best_score']:.4f}" in out
    ensemble = r"the ensemble of (the best trial's|the ([23]) best trials') 5 fold networks each "
    ensemble += r"and (its refit|their refits) on every training row \((\d+) networks\), their "
    ensemble += r"outputs averaged( \(trials? [\d, ]+ left out: .*\))?"
    if folds is None:
        kept = re.fullmatch(ensemble, search["kept"])
        assert kept and int(kept[4]) == 6 * int(kept[2] or 1)
        assert len(search["kept_trials"]) == int(kept[2] or 1)
        assert search["kept_trials"][0] == search["best_trial"]
        assert len(search["refit_epochs"]) == len(search["kept_trials"])
        assert "settings trained on all 300 training rows for" in err
    else:
        assert search["kept"] == "the best trial's network"
        assert search["kept_trials"] == [search["best_trial"]]
    assert f"kept {search['kept']}" in out
    n_validation = load_with_metadata(str(model))[1]["training"]["n_validation"]
    assert n_validation == (0 if folds is None else 30)  # folds cover every row
    part = "cross-validated accuracy" if folds is None else "validation accuracy"
    assert part in out
    with open(tmp_path / "m.trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[search["best_trial"]]["score"]) == pytest.approx(search["best_score"])
    for row in rows:
        assert (row["score"] == "") == (row["state"] != "complete")
        assert (row["scored_epoch"] == "") == (row["state"] != "complete")
        if row["scored_epoch"] and folds is not None:  # held out: the epoch whose weights it keeps
            assert row["scored_epoch"] == row["best_epoch"]
    scored = [int(rows[trial]["scored_epoch"]) for trial in search["kept_trials"]]
    assert search["scored_epochs"] == scored
    if folds is None:  # the epoch its fold networks share, which its refit trains for
        assert scored == search["refit_epochs"]
        networks = len(search["kept_trials"]) * 6
        assert f"trained {networks} networks, kept side by side as one network (" in out
        assert kept_trials_training_line(search) in out
    else:
        assert out.startswith("trained Network(") and "kept side by side" not in out


def test_a_kept_ensemble_predicts_and_exports_as_one_network(blobs, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model, onnx_file = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    ok("train", blobs[1], "--target", "label", "--out", model, "--search", "3s", "--quiet")
    net, meta, _ = load_with_metadata(str(model))
    members = int(re.search(r"\((\d+) networks\)", meta["training"]["search"]["kept"])[1])
    assert members in (6, 12, 18)  # the best trials' 5 fold networks and refits, side by side
    assert net.n_layers >= members + 1
    assert "Network(4 → " in ok("info", model)
    ok("predict", model, blobs[1], "--out", tmp_path / "p.csv", "--proba")
    with open(tmp_path / "p.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ok("export", model, "--onnx", onnx_file)
    session = ort.InferenceSession(str(onnx_file))
    X = np.array([[float(row[c]) for c in "abcd"] for row in rows])
    labels = session.run(None, {session.get_inputs()[0].name: X})[0]
    assert [str(label) for label in labels] == [row["prediction"] for row in rows]
    assert np.mean([row["prediction"] == row["label"] for row in rows]) > 0.75  # chance: 1/3


@pytest.mark.parametrize("k", [2, 3, 5])
def test_stratified_folds_partition_the_rows_keeping_class_shares(k):
    Y = np.repeat(np.arange(3), [30, 12, 7])
    folds = stratified_folds(Y, k, seed=1)
    scored = np.concatenate([rows for _, rows in folds])
    assert sorted(scored.tolist()) == list(range(len(Y)))
    for trained, rows in folds:
        assert sorted(np.concatenate([trained, rows]).tolist()) == list(range(len(Y)))
        for code, count in zip(range(3), [30, 12, 7], strict=True):
            assert abs((Y[rows] == code).sum() - count / k) < 1
    numeric = stratified_folds(np.linspace(0, 1, 11), 3, seed=0)
    assert sorted(len(rows) for _, rows in numeric) == [3, 4, 4]


def test_search_replaces_a_trials_table_written_before_the_scored_epoch_column(blobs, tmp_path):
    earlier = tmp_path / "m.trials.csv"
    earlier.write_text(",".join(EARLIER_TRIAL_COLUMNS) + "\n0,complete,0.9\n")
    result = run(
        "train", blobs[1], "--target", "label", "--out", tmp_path / "m.st", "--search", "2s"
    )
    assert result.returncode == 0, result.stderr
    with open(earlier, newline="") as handle:
        assert tuple(next(csv.reader(handle))) == TRIAL_COLUMNS


def test_search_leaves_a_foreign_trials_file_alone(blobs, tmp_path):
    foreign = tmp_path / "m.trials.csv"
    foreign.write_text("my,own\n1,2\n")
    result = run(
        "train", blobs[1], "--target", "label", "--out", tmp_path / "m.st", "--search", "2s"
    )
    refused(result, "is not a trials table backprop wrote")
    assert foreign.read_text() == "my,own\n1,2\n"


def test_interrupted_search_keeps_the_best_so_far(blobs, tmp_path):
    model = tmp_path / "m.safetensors"
    args = ["train", blobs[1], "--target", "label", "--out", model, "--search", "10m"]
    process = subprocess.Popen(
        [sys.executable, "-m", "backprop", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        preexec_fn=interruptible,
    )
    try:
        for line in process.stderr:
            if "complete" in line:
                break
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "the best model so far was saved" in err
    meta = load_with_metadata(str(model))[1]["training"]
    assert meta["search"]["interrupted"] is True
    assert (tmp_path / "m.trials.csv").exists()


def test_evaluate_per_class_scores_match_scikit_learn(blobs, tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    truth, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    predicted[predicted == 3] = 0  # class 3 never predicted: precision 0, as zero_division=0
    counts = confusion_counts(predicted, truth, 4)
    np.testing.assert_array_equal(counts, metrics.confusion_matrix(truth, predicted))
    theirs = metrics.precision_recall_fscore_support(truth, predicted, zero_division=0)
    ours = per_class_scores(counts)
    for mine, their in zip(("precision", "recall", "f1", "support"), theirs, strict=True):
        np.testing.assert_allclose(ours[mine], their)
    folder, path, _, model = blobs
    picture = tmp_path / "cm.png"
    out = ok("evaluate", model, path, "--plot", picture)
    assert "precision    recall        f1   support" in out and "confusion matrix" in out
    from backprop.cli.pictures import is_backprop_picture

    assert is_backprop_picture(str(picture))


def test_evaluate_regression_residuals(blobs, tmp_path):
    _, _, curve, _ = blobs
    model = tmp_path / "r.safetensors"
    ok("train", curve, "--target", "y", "--out", model, "--quiet")
    out = ok("evaluate", model, curve)
    assert "R² " in out and "MAE" in out and "residuals (target - prediction): RMSE" in out
    refused(run("evaluate", model, curve, "--plot", tmp_path / "x.png"), "regression model")
    assert not (tmp_path / "x.png").exists()


def test_a_model_file_written_before_recipes_still_reads(blobs, tmp_path):
    """A model whose training settings predate recipes: info and evaluate still work."""
    from backprop.io import save

    folder, path, _, model = blobs
    net, meta, tensors = load_with_metadata(str(model))
    old = dict(meta, training={"hidden": [64], "epochs": 100, "batch_size": 32, "lr": 0.001})
    legacy = tmp_path / "legacy.safetensors"
    save(net, str(legacy), metadata=json.loads(json.dumps(old)), tensors=tensors)
    assert "training: " in ok("info", legacy)
    assert "accuracy" in ok("evaluate", legacy, path)


def test_a_pruned_trial_has_no_score_in_the_table():
    optuna = pytest.importorskip("optuna")
    distribution = optuna.distributions.FloatDistribution(1e-4, 3e-2, log=True)
    pruned = optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED,
        value=-0.25,  # as a live study leaves it: the last partial score
        params={"lr": 1e-3},
        distributions={"lr": distribution},
        intermediate_values={0: -0.25},
    )
    complete = optuna.trial.create_trial(
        value=-0.5, params={"lr": 2e-3}, distributions={"lr": distribution}
    )
    pruned_row, complete_row = _trial_row(pruned), _trial_row(complete)
    assert pruned_row[1:3] == ["pruned", ""] and complete_row[1:3] == ["complete", "-0.5"]
