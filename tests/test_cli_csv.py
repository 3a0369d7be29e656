"""The CSV commands (train, predict, evaluate, info), run as a user runs them: subprocesses."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import interruptible

from backprop import datasets

pytest.importorskip("safetensors")

SRC = Path(__file__).resolve().parents[1] / "src"
IRIS_NAMES = ["setosa", "versicolor", "virginica"]


def run(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "backprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def ok(*args, cwd=None):
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


@pytest.fixture(params=["pyarrow", "plain"])
def reader(request, tmp_path_factory, monkeypatch):
    """Run the commands with pyarrow's CSV reader, and with the plain one (pyarrow hidden)."""
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
        return request.param
    hide = tmp_path_factory.mktemp("hide") / "pyarrow"
    hide.mkdir()
    (hide / "__init__.py").write_text("raise ImportError('pyarrow is hidden by the test')\n")
    path = os.pathsep.join(filter(None, [str(hide.parent), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    return request.param


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """CSV files made from real data, and a model trained on each (trained once per module)."""
    root = tmp_path_factory.mktemp("csv")
    moons = datasets.two_moons(n_samples=300, noise=0.1, seed=0)
    write_csv(
        root / "moons.csv",
        ["x1", "x2", "side"],
        [[*x, ("left", "right")[y]] for x, y in zip(moons.X, moons.y, strict=True)],
    )
    write_csv(
        root / "moons_int.csv",
        ["x1", "x2", "label"],
        [[*x, int(y)] for x, y in zip(moons.X, moons.y, strict=True)],
    )
    sin = datasets.sin(n_samples=300, noise=0.05, seed=0)
    write_csv(root / "sin.csv", ["x", "y"], [[x[0], y] for x, y in zip(sin.X, sin.y, strict=True)])
    common = ["--epochs", "60", "--lr", "0.01", "--quiet"]
    outputs = {
        "moons": ok("train", root / "moons.csv", "--target", "side", "--out", root / "moons.st",
                    "--hidden", "16,16", *common),
        "sin": ok("train", root / "sin.csv", "--target", "y", "--out", root / "sin.st",
                  "--hidden", "32,32", "--activation", "tanh", *common),
    }  # fmt: skip
    return root, outputs


@pytest.fixture(scope="module")
def iris(data):
    pytest.importorskip("sklearn")
    root, _ = data
    ds = datasets.load("iris")
    header = ["sepal length", "sepal width", "petal length", "petal width", "species"]
    rows = [[*x, IRIS_NAMES[y]] for x, y in zip(ds.X, ds.y, strict=True)]
    write_csv(root / "iris.csv", header, rows)
    output = ok("train", root / "iris.csv", "--target", "species", "--out", root / "iris.st",
                "--epochs", "60", "--lr", "0.01", "--quiet")  # fmt: skip
    return root / "iris.csv", root / "iris.st", output


# -- the happy paths ---------------------------------------------------------------------------


def test_iris_train_info_evaluate_predict(iris, tmp_path, reader):
    csv_path, model, output = iris
    assert "classification" in output and f"model saved to {model}" in output
    assert number(r"cross-validated accuracy (\S+)%", output) > 90  # a small table: 5 folds
    assert "over the 150 training rows, each predicted by the fold network" in output
    assert "trained Network(4 → 64 relu dropout 0.2 → 3 softmax" in output  # the recipe's

    info = ok("info", model)
    assert "kept: the ensemble of the 5 fold networks, their outputs averaged" in info
    assert "Network(4 → 64 relu dropout 0.2 → 64 relu (concat of a0) dropout 0.2 → " in info
    assert "task: classification" in info and "target: species" in info
    assert "sepal length, sepal width, petal length, petal width" in info
    assert "setosa, versicolor, virginica" in info
    assert '"epochs": 60' not in info and "epochs=60" in info and "format version 1" in info

    evaluation = ok("evaluate", model, csv_path, "--target", "species")
    assert number(r"accuracy (\S+)%", evaluation) > 90 and "150 rows" in evaluation

    out = tmp_path / "pred.csv"
    ok("predict", model, csv_path, "--out", out, "--proba")
    header, rows = read_csv(out)
    in_header, in_rows = read_csv(csv_path)
    assert header == [*in_header, "prediction", *(f"proba_{c}" for c in IRIS_NAMES)]
    assert len(rows) == len(in_rows) == 150
    assert [row[:5] for row in rows] == in_rows
    assert {row[5] for row in rows} <= set(IRIS_NAMES)
    probabilities = np.array([[float(v) for v in row[6:]] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean([row[4] == row[5] for row in rows]) > 0.9
    assert [row[5] for row in rows] == [IRIS_NAMES[i] for i in probabilities.argmax(axis=1)]


def test_text_labels_are_predicted_as_text(data, tmp_path, reader):
    root, outputs = data
    assert number(r"cross-validated accuracy (\S+)%", outputs["moons"]) > 90
    evaluation = ok("evaluate", root / "moons.st", root / "moons.csv")  # --target from the model
    assert number(r"accuracy (\S+)%", evaluation) > 90
    out = tmp_path / "pred.csv"
    ok("predict", root / "moons.st", root / "moons.csv", "--out", out)
    header, rows = read_csv(out)
    assert header == ["x1", "x2", "side", "prediction"]
    assert len(rows) == 300 and {row[3] for row in rows} == {"left", "right"}
    assert np.mean([row[2] == row[3] for row in rows]) > 0.9
    assert "(2, str labels): left, right" in ok("info", root / "moons.st")


def test_integer_labels_come_back_as_integers(data, tmp_path, reader):
    root, _ = data
    model, out = tmp_path / "m.st", tmp_path / "pred.csv"
    output = ok("train", root / "moons_int.csv", "--target", "label", "--out", model,
                "--epochs", "40", "--lr", "0.01", "--quiet")  # fmt: skip
    assert "classification" in output
    assert "(2, int labels): 0, 1" in ok("info", model)
    ok("predict", model, root / "moons_int.csv", "--out", out)
    _, rows = read_csv(out)
    assert {row[3] for row in rows} == {"0", "1"}
    # without the target column the features still suffice; extra columns are kept
    features_only = write_csv(
        tmp_path / "features.csv",
        ["id", "x2", "x1"],
        [[f"r{i}", row[1], row[0]] for i, row in enumerate(rows)],
    )
    ok("predict", model, features_only, "--out", out)
    header, again = read_csv(out)
    assert header == ["id", "x2", "x1", "prediction"]
    assert [row[3] for row in again] == [row[3] for row in rows]


def test_regression_on_sin(data, tmp_path):
    root, outputs = data
    assert "regression" in outputs["sin"]
    assert number(r"cross-validated R² (\S+),", outputs["sin"]) > 0.9
    evaluation = ok("evaluate", root / "sin.st", root / "sin.csv", "--target", "y")
    assert number(r"R² (\S+),", evaluation) > 0.9 and "MAE" in evaluation
    out = tmp_path / "pred.csv"
    ok("predict", root / "sin.st", root / "sin.csv", "--out", out)
    header, rows = read_csv(out)
    assert header == ["x", "y", "prediction"] and len(rows) == 300
    x, predicted = (np.array([float(row[i]) for row in rows]) for i in (0, 2))
    assert np.abs(predicted - np.sin(x)).mean() < 0.15  # in the target's units, not standardised
    info = ok("info", root / "sin.st")
    assert "task: regression" in info and "target scaling" in info


def test_model_metadata_and_scaling_tensors(data):
    from backprop.io import load_with_metadata

    root, _ = data
    net, meta, tensors = load_with_metadata(root / "moons.st")
    assert meta["task"] == "classification" and meta["target"] == "side"
    assert meta["features"] == ["x1", "x2"]
    assert meta["classes"] == ["left", "right"] and meta["label_type"] == "str"
    training = meta["training"]
    assert training["epochs"] == 60 and training["seed"] == 0 and training["lr"] == 0.01
    assert training["n_train"] + training["n_validation"] == 300 == training["n_samples"]
    assert sorted(tensors) == ["feature_mean", "feature_scale"]
    assert tensors["feature_mean"].shape == (2,) and (tensors["feature_scale"] > 0).all()
    _, meta, _ = load_with_metadata(root / "sin.st")
    assert meta["task"] == "regression" and meta["target_scale"] > 0 and "classes" not in meta


def test_same_seed_gives_identical_model_files(data, tmp_path):
    root, _ = data
    paths = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        paths.append(tmp_path / f"{name}.st")
        ok("train", root / "moons.csv", "--target", "side", "--out", paths[-1], "--seed", seed,
           "--epochs", "5", "--hidden", "8", "--quiet")  # fmt: skip
    a, b, c = (path.read_bytes() for path in paths)
    assert a == b and a != c


def test_validation_zero_reports_on_training_data(data, tmp_path):
    root, _ = data
    output = ok("train", root / "sin.csv", "--target", "y", "--out", tmp_path / "m.st",
                "--validation", "0", "--folds", "0", "--epochs", "3", "--quiet")  # fmt: skip
    assert "training R²" in output and "nothing held out" in output


def test_task_override_and_progress(data, tmp_path):
    root, _ = data
    result = run("train", root / "moons_int.csv", "--target", "label", "--out",
                 tmp_path / "m.st", "--task", "regression", "--epochs", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "regression" in result.stdout
    assert "loss" in result.stderr and "val_loss" in result.stderr  # the progress display


# -- errors: exit 2, one line on stderr, no output file ----------------------------------------


@pytest.fixture
def bad(tmp_path):
    files = {
        "empty.csv": "",
        "header.csv": "a,b,t\n",
        "ragged.csv": "a,b,t\n1,2,x\n3,4\n",
        "text.csv": "a,b,t\n1,2,x\n3,oops,y\n",
        "nan.csv": "a,b,t\n1,2,x\n3,NaN,y\n",
        "blank.csv": "a,b,t\n1,2,x\n3,,y\n",
        "ok.csv": "a,b,t\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n",
        "twice.csv": "a,a,t\n1,2,x\n3,4,y\n",
        "foreign.st": "not a model at all, just some text that is long enough",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "latin1.csv").write_bytes("a,b,t\n1,2,caf\xe9\n".encode("latin-1"))
    return tmp_path


def _corrupt(model: Path, target: Path) -> None:
    """The model with its JSON header broken: the same length, unparseable."""
    blob = model.read_bytes()
    target.write_bytes(blob[:8] + blob[8:40].replace(b'"', b"!") + blob[40:])


TRAIN_ERRORS = [
    (["missing.csv", "--target", "t"], ["missing.csv", "no such file"]),
    (["empty.csv", "--target", "t"], ["empty.csv", "empty"]),
    (["header.csv", "--target", "t"], ["header.csv", "no data rows"]),
    (["ragged.csv", "--target", "t"], ["ragged.csv", "line 3"]),
    (["ok.csv", "--target", "nope"], ["ok.csv", "'nope'"]),
    (["text.csv", "--target", "t"], ["text.csv", "line 3", "'b'", "'oops'"]),
    (["nan.csv", "--target", "t"], ["nan.csv", "line 3", "'b'"]),
    (["blank.csv", "--target", "t"], ["blank.csv", "line 3", "'b'"]),
    (["ok.csv", "--target", "t", "--validation", "1"], ["--validation"]),
    (["ok.csv", "--target", "t", "--validation", "-0.1"], ["--validation"]),
    (["ok.csv", "--target", "a", "--task", "classification", "--validation", "0.1"], ["ok.csv"]),
    (["ok.csv", "--target", "t", "--task", "regression"], ["ok.csv", "line 2", "'t'"]),
    (["twice.csv", "--target", "t"], ["twice.csv", "'a'", "twice"]),
    (["latin1.csv", "--target", "t"], ["latin1.csv", "UTF-8"]),
    (["ok.csv"], ["--target"]),
    (["ok.csv", "--target", "t", "--hidden", "8,x"], ["--hidden"]),
    (["ok.csv", "--target", "t", "--no-such-option"], ["--no-such-option"]),
]


def check_error(result, expected, outputs, before):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backprop: error: ") and "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0]
    for path in outputs:
        assert (path.read_bytes() if path.exists() else None) == before.get(path)
    leftovers = [p.name for p in outputs[0].parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


def train_error(directory, args, expected, existing):
    out = directory / "model.st"
    before = {}
    if existing:  # a model file of ours, which train may replace, but not when it fails
        import backprop as bp
        from backprop.io import save

        save(bp.Network([2, 2], seed=0), out)
        before[out] = out.read_bytes()
    result = run("train", *args, "--out", out, "--quiet", "--epochs", "2", cwd=directory)
    check_error(result, expected, [out], before)


@pytest.mark.parametrize("args, expected", TRAIN_ERRORS)
def test_train_errors(bad, args, expected, reader):
    train_error(bad, args, expected, existing=False)


@pytest.mark.parametrize("args, expected", [TRAIN_ERRORS[i] for i in (3, 5, 8)])
def test_train_errors_leave_an_existing_model_alone(bad, args, expected, reader):
    train_error(bad, args, expected, existing=True)


@pytest.fixture
def staged(data, bad):
    """Models and CSVs for the predict, evaluate and info error cases, all in ``bad``."""
    import backprop as bp
    from backprop.io import save

    root, _ = data
    for name in ("moons.st", "sin.st", "moons.csv", "sin.csv"):
        (bad / name).write_bytes((root / name).read_bytes())
    _corrupt(root / "moons.st", bad / "corrupt.st")
    save(bp.Network([2, 3, 2], output="softmax", seed=0), bad / "plain.st")
    header, rows = read_csv(root / "moons.csv")
    write_csv(bad / "moons_text.csv", header, [rows[0], [rows[1][0], "abc", rows[1][2]]])
    write_csv(bad / "moons_nan.csv", header, [["nan", *rows[0][1:]], rows[1]])
    write_csv(bad / "features.csv", header[:2], [row[:2] for row in rows[:5]])
    return bad


MODEL_ERRORS = [
    ("foreign.st", "moons.csv", ["foreign.st"]),
    ("corrupt.st", "moons.csv", ["corrupt.st"]),
    ("missing.st", "moons.csv", ["missing.st", "no such file"]),
    ("plain.st", "moons.csv", ["plain.st", "backprop train"]),
    ("moons.st", "missing.csv", ["missing.csv", "no such file"]),
    ("moons.st", "empty.csv", ["empty.csv"]),
    ("moons.st", "header.csv", ["header.csv"]),
    ("moons.st", "ragged.csv", ["ragged.csv", "line 3"]),
    ("moons.st", "ok.csv", ["ok.csv", "'x1'", "'x2'"]),
    ("moons.st", "moons_text.csv", ["moons_text.csv", "line 3", "'x2'"]),
    ("moons.st", "moons_nan.csv", ["moons_nan.csv", "line 2", "'x1'"]),
]


def predict_error(staged, model, data_file, expected, existing):
    out = staged / "pred.csv"
    before = {}
    if existing:  # a prediction file, which predict may replace, but not when it fails
        out.write_text("x1,x2,prediction\n1,2,left\n")
        before[out] = out.read_bytes()
    result = run("predict", model, data_file, "--out", out, "--proba", cwd=staged)
    check_error(result, expected, [out], before)


@pytest.mark.parametrize(
    "model, data_file, expected",
    [*MODEL_ERRORS, ("sin.st", "sin.csv", ["--proba", "regression"])],
)
def test_predict_errors(staged, model, data_file, expected, reader):
    predict_error(staged, model, data_file, expected, existing=False)


@pytest.mark.parametrize("model, data_file, expected", [MODEL_ERRORS[i] for i in (1, 8, 9)])
def test_predict_errors_leave_an_existing_file_alone(staged, model, data_file, expected, reader):
    predict_error(staged, model, data_file, expected, existing=True)


@pytest.mark.parametrize(
    "model, data_file, expected",
    [
        *(MODEL_ERRORS[i] for i in (0, 3, 8)),
        ("moons.st", "moons_text.csv", ["moons_text.csv", "line 3", "'x2'"]),
        ("moons.st", "sin.csv", ["sin.csv", "'x1'"]),  # the features are missing
        ("sin.st", "moons.csv", ["moons.csv", "'x'"]),
        ("moons.st", "features.csv", ["features.csv", "'side'"]),  # no target column
    ],
)
def test_evaluate_errors(staged, model, data_file, expected, reader):
    result = run("evaluate", model, data_file, cwd=staged)
    check_error(result, expected, [staged / "unused"], {})


@pytest.mark.parametrize(
    "model, expected",
    [
        ("foreign.st", ["foreign.st"]),
        ("corrupt.st", ["corrupt.st"]),
        ("missing.st", ["missing.st"]),
        ("ok.csv", ["ok.csv"]),
    ],
)
def test_info_errors(staged, model, expected):
    check_error(run("info", model, cwd=staged), expected, [staged / "unused"], {})


def test_info_on_a_plain_model_file(staged):
    output = ok("info", "plain.st", cwd=staged)
    assert "Network(2 → 3 sigmoid → 2 softmax" in output and "not written by" in output


def test_predict_refuses_to_overwrite_its_own_columns(staged, tmp_path):
    first = tmp_path / "first.csv"
    ok("predict", "moons.st", "moons.csv", "--out", first, cwd=staged)
    result = run("predict", "moons.st", first, "--out", tmp_path / "second.csv", cwd=staged)
    check_error(result, [str(first), "'prediction'"], [tmp_path / "second.csv"], {})


def test_missing_output_directory(staged):
    out = staged / "no" / "such" / "dir" / "pred.csv"
    result = run("predict", "moons.st", "moons.csv", "--out", out, cwd=staged)
    check_error(result, ["does not exist"], [staged / "unused"], {})
    assert not out.parent.exists()


def test_train_checkpoint_and_resume(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["a,b,label"] + [
        f"{x:.4f},{y:.4f},{'yes' if x * y > 0 else 'no'}" for x, y in rng.normal(size=(200, 2))
    ]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    common = ["train", str(data), "--target", "label", "--epochs", "4", "--quiet", "--seed", "1"]
    common += ["--folds", "0"]  # the one network a checkpoint holds, also in the run without one
    whole = run(*common, "--out", str(tmp_path / "whole.safetensors"))
    assert whole.returncode == 0, whole.stderr
    ckpt = tmp_path / "run.ckpt"
    part = run(
        *common[:5],
        "2",
        *common[6:],
        "--out",
        str(tmp_path / "part.safetensors"),
        "--checkpoint",
        str(ckpt),
    )
    assert part.returncode == 0, part.stderr
    assert ckpt.exists()
    resumed = run(
        *common,
        "--out",
        str(tmp_path / "resumed.safetensors"),
        "--checkpoint",
        str(ckpt),
        "--resume",
    )
    assert resumed.returncode == 0, resumed.stderr
    import backprop as bp

    a = bp.load(tmp_path / "whole.safetensors").params
    b = bp.load(tmp_path / "resumed.safetensors").params
    assert np.array_equal(a, b)
    no_ckpt = run(*common, "--out", str(tmp_path / "x.safetensors"), "--resume")
    assert no_ckpt.returncode == 2 and "resume" in no_ckpt.stderr


def test_ctrl_c_during_train_then_resume_is_bitwise_identical(tmp_path):
    import signal
    import time

    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [
        f"{x:.4f},{y:.4f},{z:.4f},{'yes' if x * y > z else 'no'}"
        for x, y, z in rng.normal(size=(6000, 3))
    ]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    common = [
        "train",
        str(data),
        "--target",
        "label",
        "--epochs",
        "30",
        "--batch-size",
        "8",
        "--hidden",
        "64,64",
        "--quiet",
        "--folds",
        "0",  # the one network a checkpoint holds, also in the run without one
    ]
    whole = run(*common, "--out", str(tmp_path / "whole.safetensors"))
    assert whole.returncode == 0, whole.stderr
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "cut.safetensors"
    process = subprocess.Popen(
        [sys.executable, "-m", "backprop", *common, "--out", str(out), "--checkpoint", str(ckpt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while not ckpt.exists() and time.monotonic() < deadline:  # the first epoch is done
        time.sleep(0.02)
    time.sleep(0.3)  # now inside a later epoch of the 30
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "--resume" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not out.exists() and ckpt.exists()
    resumed = run(*common, "--out", str(out), "--checkpoint", str(ckpt), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    import backprop as bp

    assert np.array_equal(bp.load(out).params, bp.load(tmp_path / "whole.safetensors").params)
