"""Class labels come back as written: ``backprop train`` then ``predict``, run as subprocesses."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors")

SRC = Path(__file__).resolve().parents[1] / "src"


def ok(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "backprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def separable_csv(path, labels, per_class=30):
    """Rows whose feature ``x`` is the class's position plus noise: every class is learnable."""
    rng = np.random.default_rng(0)
    rows = [
        [f"{k + rng.normal(scale=0.05):.4f}", f"{rng.normal():.4f}", label]
        for _ in range(per_class)
        for k, label in enumerate(labels)
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "noise", "label"])
        writer.writerows(rows)
    return path


def predictions(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    return [row[2] for row in rows], [row[3] for row in rows]


def train_and_predict(tmp_path, labels, *options):
    data = separable_csv(tmp_path / "data.csv", labels)
    model, out = tmp_path / "model.st", tmp_path / "pred.csv"
    report = ok("train", data, "--target", "label", "--out", model, "--epochs", "60",
                "--lr", "0.02", "--hidden", "16", "--quiet", *options)  # fmt: skip
    ok("predict", model, data, "--out", out)
    truth, predicted = predictions(out)
    return report, truth, predicted, model


@pytest.mark.parametrize(
    "labels, options, shown",
    [
        (["007", "042", "100"], [], "labels read as text: '007' would print as 7 as a number"),
        (["1", "1.0"], [], "labels read as text: '1.0' would print as 1 as a number"),
        (["9007199254740993", "9007199254740992"], ["--task", "classification"],
         "labels read as text: '9007199254740993' would print as 9007199254740992.0"),
        (["red", "green", "blue"], [], "3 classes, labels read as text"),
    ],
)  # fmt: skip
def test_text_labels_come_back_as_written(tmp_path, labels, options, shown):
    report, truth, predicted, model = train_and_predict(tmp_path, labels, *options)
    assert f"classification of 'label' ({len(labels)} classes, " in report and shown in report
    assert set(predicted) == set(labels)  # no two written labels merged into one class
    assert np.mean([a == b for a, b in zip(truth, predicted, strict=True)]) > 0.9
    assert f"({len(labels)}, str labels): {', '.join(sorted(labels))}" in ok("info", model)


@pytest.mark.parametrize(
    "labels, options, label_type",
    [
        (["7", "42", "-3"], [], "int"),
        (["0.5", "-3", "7", "2.25"], ["--task", "classification"], "float"),
    ],
)
def test_canonical_numbers_are_read_as_numbers(tmp_path, labels, options, label_type):
    report, truth, predicted, model = train_and_predict(tmp_path, labels, *options)
    assert f"({len(labels)} classes, labels read as numbers)" in report
    assert set(predicted) == set(labels)
    assert np.mean([a == b for a, b in zip(truth, predicted, strict=True)]) > 0.9
    in_order = ", ".join(sorted(labels, key=float))
    assert f"({len(labels)}, {label_type} labels): {in_order}" in ok("info", model)
    # evaluate matches number classes by value: 7.0 in a file is the class 7
    relabelled = tmp_path / "relabelled.csv"
    text = (tmp_path / "data.csv").read_text()
    relabelled.write_text(re.sub(r",7$", ",7.0", text, flags=re.M))
    evaluation = ok("evaluate", model, relabelled)
    assert float(re.search(r"accuracy (\S+)%", evaluation).group(1)) > 90
    assert "never saw" not in evaluation


def rewrite_classes(model, classes, label_type):
    """The model file as an earlier backprop wrote it: numeric class names in canonical form."""
    from backprop.io import load_with_metadata, save

    net, meta, tensors = load_with_metadata(model)
    meta.update(classes=classes, label_type=label_type)
    save(net, model, metadata=meta, tensors=tensors)


@pytest.mark.parametrize(
    "labels, old_classes, label_type",
    [
        (["007", "042", "100"], ["7", "42", "100"], "int"),
        (["0.5", "1", "1.5"], ["0.5", "1.0", "1.5"], "float"),
    ],
)
def test_earlier_model_files_predict_and_evaluate_as_before(
    tmp_path, labels, old_classes, label_type
):
    options = ["--task", "classification"]
    _, truth, _, model = train_and_predict(tmp_path, labels, *options)
    rewrite_classes(model, old_classes, label_type)
    out = tmp_path / "old.csv"
    ok("predict", model, tmp_path / "data.csv", "--out", out)
    _, predicted = predictions(out)
    assert set(predicted) == set(old_classes)  # the class names it was saved with
    written = dict(zip(old_classes, labels, strict=True))
    assert np.mean([a == written[b] for a, b in zip(truth, predicted, strict=True)]) > 0.9
    evaluation = ok("evaluate", model, tmp_path / "data.csv")
    assert float(re.search(r"accuracy (\S+)%", evaluation).group(1)) > 90


def test_numeric_classes_that_are_not_numbers_are_refused(tmp_path):
    _, _, _, model = train_and_predict(tmp_path, ["7", "42"])
    rewrite_classes(model, ["7", "forty-two"], "int")
    env = dict(os.environ, PYTHONPATH=str(SRC))
    result = subprocess.run(
        [sys.executable, "-m", "backprop", "predict", str(model), str(tmp_path / "data.csv"),
         "--out", str(tmp_path / "p.csv")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 2 and "corrupt model metadata" in result.stderr
    assert "distinct finite numbers" in result.stderr and not (tmp_path / "p.csv").exists()
