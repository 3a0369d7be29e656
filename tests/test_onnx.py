"""ONNX export: onnxruntime computes what backprop computes, for networks, estimators, scikit-learn
pipelines converted by skl2onnx, and ``backprop export`` of model files."""

import csv
import sys
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop.engine.activations import ACTIVATIONS, leaky_relu, register_activation

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("safetensors")
from backprop.cli import main  # noqa: E402
from backprop.onnx import is_backprop_onnx, to_onnx  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def run(model, X):
    """onnxruntime's outputs of ``model`` for ``X``, by output name (the model checked first)."""
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X}), strict=True))


def close(actual, expected, dtype):
    tolerance = TOLERANCE[np.dtype(dtype).name]
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def inputs(n_features, dtype, n=40, seed=0):
    return (np.random.default_rng(seed).normal(size=(n, n_features)) * 3).astype(dtype)


# -- networks ----------------------------------------------------------------------------------


def network_for(name, dtype):
    activation = leaky_relu(0.3) if name == "leaky_relu" else name
    if ACTIVATIONS[name].elementwise:
        sizes = [3, bp.Layer(5, activation), bp.Layer(2, activation)]
    else:  # softmax: outputs only
        sizes = [3, bp.Layer(5, "tanh"), bp.Layer(3, activation)]
    net = bp.Network(sizes, dtype=dtype, seed=1)
    net.layers[1].b = np.linspace(-1, 1, 5)  # nonzero biases, so that b is checked too
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_runs_as_backprop_computes_it(name, dtype):
    net = network_for(name, dtype)
    X = inputs(3, dtype)
    model = to_onnx(net)
    outputs = run(model, X)["output"]
    assert outputs.dtype == np.dtype(dtype)
    close(outputs, net.predict(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_leaky_relu_slope_is_the_layers_own(dtype):
    steep, gentle = (bp.Network([1, bp.Layer(1, leaky_relu(s))], dtype=dtype) for s in (0.3, 0.01))
    for net in (steep, gentle):
        net.layers[1].W, net.layers[1].b = [[1.0]], [0.0]
    X = np.array([[-2.0], [3.0]], dtype)
    close(run(to_onnx(steep), X)["output"], [[-0.6], [3.0]], dtype)
    close(run(to_onnx(gentle), X)["output"], [[-0.02], [3.0]], dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_skip_connections_summed_and_concatenated(dtype):
    net = bp.Network(
        [
            3,
            bp.Layer(4, "tanh"),
            bp.Layer(4, "relu"),
            bp.Layer(4, "sigmoid", inputs=[1, 2], combine="sum"),
            bp.Layer(2, "identity", inputs=[0, 1, 3]),
        ],
        dtype=dtype,
        seed=2,
    )
    ops = [node.op_type for node in to_onnx(net).graph.node]
    assert ops.count("Sum") == 1 and ops.count("Concat") == 1
    X = inputs(3, dtype)
    close(run(to_onnx(net), X)["output"], net.predict(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_ensemble_with_a_member_without_hidden_layers_reads_the_inputs_directly(dtype):
    linear = bp.Network([3, 2], "relu", "softmax", "cross_entropy", dtype=dtype, seed=3)
    hidden = bp.Network([3, 5, 5, 2], "relu", "softmax", "cross_entropy", dtype=dtype, seed=4)
    net = bp.ensemble([linear, hidden])
    assert net.layers[-1].sources[0][0] == 0  # the output layer reads the inputs too
    X = inputs(3, dtype)
    close(run(to_onnx(net), X)["output"], net.predict(X), dtype)


def test_an_activation_without_an_onnx_operator_is_refused_naming_the_layer():
    cube = register_activation("cube_for_onnx", lambda z: z**3, lambda z: 3 * z**2, overwrite=True)
    try:
        net = bp.Network([2, bp.Layer(3, cube), 1], seed=0)
        with pytest.raises(ValueError, match="layer 1: activation 'cube_for_onnx' has no ONNX"):
            to_onnx(net)
    finally:
        del ACTIVATIONS["cube_for_onnx"]


def test_to_onnx_refuses_what_it_cannot_export():
    with pytest.raises(TypeError, match="needs a backprop Network"):
        to_onnx("model.safetensors")
    sklearn_mlp = pytest.importorskip("sklearn.neural_network").MLPClassifier()
    with pytest.raises(TypeError, match="sklearn.neural_network.*skl2onnx.to_onnx converts"):
        to_onnx(sklearn_mlp)


def test_the_file_is_written_atomically_and_marked_as_backprops(tmp_path):
    net = bp.Network([2, 3, 1], seed=0)
    path = tmp_path / "net.onnx"
    returned = to_onnx(net, path)
    stored = onnx.load(str(path))
    assert stored == returned and stored.producer_name == "backprop"
    assert is_backprop_onnx(path) and [p.name for p in tmp_path.iterdir()] == ["net.onnx"]
    (tmp_path / "other.onnx").write_bytes(b"\x08\x07")  # an ONNX model by someone else
    (tmp_path / "text.csv").write_text("a,b\n1,2\n")
    assert not is_backprop_onnx(tmp_path / "other.onnx")
    assert not is_backprop_onnx(tmp_path / "text.csv")


# -- estimators ----------------------------------------------------------------------------------


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged: a few iterations are enough here
        return estimator.fit(X, y)


def classification_targets(X):
    score = X[:, 0] + 0.5 * X[:, 1]
    return {
        "binary": (score > 0).astype(int),
        "multiclass": np.digitize(score, [-1.0, 1.0]) * 2 + 1,  # labels 1, 3, 5
        "strings": np.array(["low", "mid", "high"])[np.digitize(score, [-1.0, 1.0])],
        "binary strings": np.where(score > 0, "yes", "no"),
        "multilabel": np.stack([score > 0, X[:, 2] > 0, score + X[:, 2] > 1], axis=1).astype(int),
    }


CLASSIFICATION_CASES = ["binary", "multiclass", "strings", "binary strings", "multilabel"]


def classifier(case, dtype):
    from backprop.sklearn import MLPClassifier

    X = inputs(4, dtype, n=60)
    y = classification_targets(X)[case]
    clf = MLPClassifier((6, 5), activation="tanh", max_iter=30, random_state=0)
    return fitted(clf, X, y), X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CLASSIFICATION_CASES)
def test_a_classifier_gives_sklearns_labels_and_probabilities(case, dtype):
    pytest.importorskip("sklearn")
    clf, X = classifier(case, dtype)
    outputs = run(to_onnx(clf), X)
    expected = clf.predict(X)
    assert outputs["label"].shape == expected.shape
    assert outputs["label"].tolist() == expected.tolist()
    assert outputs["probabilities"].dtype == np.dtype(dtype)
    close(outputs["probabilities"], clf.predict_proba(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_a_regressor_gives_its_predictions(n_outputs, dtype):
    pytest.importorskip("sklearn")
    from backprop.sklearn import MLPRegressor

    X = inputs(4, dtype, n=50)
    Y = X[:, :n_outputs] * 2 + X[:, 1:2]
    reg = fitted(
        MLPRegressor((5,), max_iter=20, random_state=0), X, Y.ravel() if n_outputs == 1 else Y
    )
    outputs = run(to_onnx(reg), X)["variable"]
    assert outputs.shape == (50, n_outputs)
    close(outputs, reg.predict(X).reshape(50, n_outputs), dtype)


def test_an_unfitted_estimator_is_refused():
    pytest.importorskip("sklearn")
    from backprop.sklearn import MLPClassifier

    with pytest.raises(ValueError, match="MLPClassifier is not fitted yet"):
        to_onnx(MLPClassifier())


# -- pipelines through skl2onnx ------------------------------------------------------------------


def pipeline_onnx(estimator, X, y, **options):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = fitted(Pipeline([("scale", StandardScaler()), ("mlp", estimator)]), X, y)
    return pipe, skl2onnx.to_onnx(pipe, X[:1], **options)


def signature(model):
    """Each output's name, element type and rank."""
    return [
        (o.name, o.type.tensor_type.elem_type, len(o.type.tensor_type.shape.dim))
        if o.type.HasField("tensor_type")
        else (o.name, o.type.WhichOneof("value"))
        for o in model.graph.output
    ]


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("case", ["binary", "strings"])
def test_a_pipeline_converts_with_outputs_as_for_sklearns_mlp(case, zipmap):
    pytest.importorskip("skl2onnx")
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from backprop.sklearn import MLPClassifier

    dtype = "float32" if zipmap else "float64"  # ZipMap takes float tensors only
    X = inputs(4, dtype, n=60)
    y = classification_targets(X)[case]
    options = {} if zipmap else {"options": {"zipmap": False}}
    ours, model = pipeline_onnx(MLPClassifier((6,), max_iter=30, random_state=0), X, y, **options)
    _, theirs = pipeline_onnx(SklearnMLP((6,), max_iter=30, random_state=0), X, y, **options)
    assert signature(model) == signature(theirs)
    outputs = list(run(model, X).values())
    assert outputs[0].tolist() == ours.predict(X).tolist()
    if zipmap:  # one {class: probability} per row
        assert outputs[1][0].keys() == set(ours.classes_.tolist())
        probabilities = np.array([[row[c] for c in ours.classes_.tolist()] for row in outputs[1]])
    else:
        probabilities = outputs[1]
    close(probabilities, ours.predict_proba(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_multilabel_pipeline_gives_indicator_labels(dtype):
    from backprop.sklearn import MLPClassifier

    X = inputs(4, dtype, n=60)
    y = classification_targets(X)["multilabel"]
    clf = MLPClassifier((6,), max_iter=30, random_state=0)
    pipe, model = pipeline_onnx(clf, X, y, options={"zipmap": False})
    outputs = run(model, X)
    assert outputs["label"].shape == (60, 3)
    np.testing.assert_array_equal(outputs["label"], pipe.predict(X))
    close(outputs["probabilities"], pipe.predict_proba(X), dtype)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_a_regression_pipeline_converts(n_outputs):
    from backprop.sklearn import MLPRegressor

    X = inputs(3, "float32", n=50)
    Y = X[:, :n_outputs] - X[:, 2:3]
    y = Y.ravel() if n_outputs == 1 else Y
    pipe, model = pipeline_onnx(MLPRegressor((5,), max_iter=20, random_state=0), X, y)
    assert signature(model)[0][0] == "variable"
    close(run(model, X)["variable"], pipe.predict(X).reshape(50, n_outputs), "float32")


# -- backprop export -----------------------------------------------------------------------------


def write_table(path, X, target_name, target):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", target_name])
        writer.writerows([*map(repr, row), t] for row, t in zip(X.tolist(), target, strict=True))
    return path


def read_table(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows


def cli(*args):
    return main([str(arg) for arg in args])


TRAIN = ["--hidden", "6", "--epochs", "4", "--quiet", "--seed", "0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classification and a regression model from ``backprop train``, and their data."""
    folder = tmp_path_factory.mktemp("trained")
    X = np.random.default_rng(3).normal(size=(60, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -50.0]
    score = X[:, 0] + X[:, 1] / 10
    kinds = np.array(["cat", "dog", "emu"])[np.digitize(score, [0.0, 1.0])]
    tables = {
        "classification": write_table(folder / "kinds.csv", X, "kind", kinds),
        "two classes": write_table(folder / "two.csv", X, "kind", np.where(score > 0, 7, 10)),
        "regression": write_table(folder / "values.csv", X, "value", 3 * X[:, 0] - X[:, 2]),
    }
    models = {}
    for task, table in tables.items():
        models[task] = folder / f"{task}.safetensors"
        target = "value" if task == "regression" else "kind"
        assert cli("train", table, "--target", target, "--out", models[task], *TRAIN) == 0
    return X, tables, models


@pytest.mark.parametrize(
    "task, classes", [("classification", "cat dog emu"), ("two classes", "7 10")]
)
def test_export_of_a_classifier_writes_what_predict_writes(
    trained, tmp_path, capsys, task, classes
):
    X, tables, models = trained
    out = tmp_path / "kinds.onnx"
    assert cli("export", models[task], "--onnx", out) == 0
    assert "input X (3 columns: a, b, c), outputs label, probabilities" in capsys.readouterr().out
    predicted = tmp_path / "predicted.csv"
    assert cli("predict", models[task], tables[task], "--out", predicted, "--proba") == 0
    rows = read_table(predicted)
    outputs = run(onnx.load(str(out)), X)
    assert outputs["label"].tolist() == [row["prediction"] for row in rows]
    proba = [[float(row[f"proba_{k}"]) for k in classes.split()] for row in rows]
    close(outputs["probabilities"], proba, "float32")


def test_export_of_a_regressor_includes_the_target_scaling(trained, tmp_path):
    X, tables, models = trained
    out = tmp_path / "values.onnx"
    assert cli("export", models["regression"], "--onnx", out) == 0
    predicted = tmp_path / "predicted.csv"
    assert cli("predict", models["regression"], tables["regression"], "--out", predicted) == 0
    expected = [[float(row["prediction"])] for row in read_table(predicted)]
    close(run(onnx.load(str(out)), X)["variable"], expected, "float32")


def test_export_of_a_saved_network_is_the_bare_network(tmp_path):
    net = bp.Network([2, bp.Layer(3, leaky_relu(0.2)), 2], seed=4)
    net.save(tmp_path / "net.safetensors")
    assert cli("export", tmp_path / "net.safetensors", "--onnx", tmp_path / "net.onnx") == 0
    X = inputs(2, "float32")
    close(run(onnx.load(str(tmp_path / "net.onnx")), X)["output"], net.predict(X), "float32")


def test_export_replaces_its_own_onnx_file_only(trained, tmp_path, capsys):
    _, tables, models = trained
    model = models["regression"]
    ours = tmp_path / "ours.onnx"
    assert cli("export", models["classification"], "--onnx", ours) == 0
    assert cli("export", model, "--onnx", ours) == 0  # replaces its own
    assert [o.name for o in onnx.load(str(ours)).graph.output] == ["variable"]
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(
        onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])).SerializeToString()
    )
    capsys.readouterr()
    for target in (foreign, tables["regression"], models["classification"], model):
        before = target.read_bytes()
        assert cli("export", model, "--onnx", target) == 2
        assert target.read_bytes() == before
        message = capsys.readouterr().err
        assert message.startswith(f"backprop: error: --onnx {target}") and message.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.onnx", "ours.onnx"]


def test_a_failed_write_leaves_the_old_onnx_file_and_no_temporary_file(
    trained, tmp_path, monkeypatch
):
    _, _, models = trained
    out = tmp_path / "model.onnx"
    assert cli("export", models["regression"], "--onnx", out) == 0
    before = out.read_bytes()

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)
    assert cli("export", models["classification"], "--onnx", out) == 2
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["missing.safetensors", "--onnx", "out.onnx"], "missing.safetensors: no such file"),
        (["data.csv", "--onnx", "out.onnx"], "data.csv"),
        (["model.safetensors", "--onnx", "no/such/dir/out.onnx"], "does not exist"),
    ],
)
def test_bad_export_usage_exits_2_with_one_line(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    bp.Network([2, 1], seed=0).save(tmp_path / "model.safetensors")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert cli("export", *arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("backprop: error:") and message in error and error.count("\n") == 1
    assert not (tmp_path / "out.onnx").exists()


def test_export_without_onnx_installed_says_what_to_install(tmp_path, monkeypatch, capsys):
    import backprop

    bp.Network([2, 1], seed=0).save(tmp_path / "model.safetensors")
    monkeypatch.delattr(backprop, "onnx")
    monkeypatch.setitem(sys.modules, "backprop.onnx", None)  # as if onnx were missing
    assert cli("export", tmp_path / "model.safetensors", "--onnx", tmp_path / "m.onnx") == 2
    error = capsys.readouterr().err
    assert 'pip install "backprop[onnx]"' in error and error.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()


def test_export_needs_onnx_option(capsys):
    with pytest.raises(SystemExit) as exited:
        cli("export", "model.safetensors")
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.count("\n") == 1
    assert "export: the following arguments are required: --onnx" in error
