"""The pictures say what the network does: colours read back from the rendered image, one
drawn edge per connection of the topology, labels, keys and markers."""

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import backprop as bp  # noqa: E402
from backprop import plot  # noqa: E402
from backprop.cli.demo import demo_xor  # noqa: E402
from backprop.plot.style import region_colour  # noqa: E402
from backprop.training.history import History  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    matplotlib.pyplot.close(fig)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def colour_at(fig, ax, x, y):
    """The RGB colour the rendered figure shows at data point (x, y)."""
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3] / 255.0
    column, row = ax.transData.transform((x, y))
    return image[int(round(image.shape[0] - row)), int(round(column))]


def assert_painted(fig, ax, points, classes):
    for (x, y), k in zip(points, classes, strict=True):
        np.testing.assert_allclose(colour_at(fig, ax, x, y), region_colour(k), atol=2 / 255)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def edges(ax):
    return {
        line.get_gid()[5:]: line for line in ax.lines if (line.get_gid() or "").startswith("edge")
    }


def texts(ax, prefix):
    return {
        t.get_gid()[len(prefix) + 1 :]: t.get_text()
        for t in ax.texts
        if (t.get_gid() or "").startswith(prefix)
    }


def mazur_trace():
    net = bp.Network([2, 2, 2], dtype="float64")
    net.layers[1].W = [[0.15, 0.20], [0.25, 0.30]]
    net.layers[1].b = [0.35, 0.35]
    net.layers[2].W = [[0.40, 0.45], [0.50, 0.55]]
    net.layers[2].b = [0.60, 0.60]
    return net.backprop([[0.05, 0.10]], [[0.01, 0.99]])


# -- decision regions -------------------------------------------------------------------------


def three_class_net_predicting_1_and_2():
    net = bp.Network([2, 3], output="softmax", loss="cross_entropy", dtype="float64")
    net.layers[1].W = [[0.0, 0.0], [5.0, 0.0], [-5.0, 0.0]]  # class 1 right, class 2 left
    net.layers[1].b = [-10.0, 0.0, 0.0]  # class 0 nowhere
    return net


def test_regions_are_painted_in_the_predicted_class_colour_with_a_key(tmp_path):
    net = three_class_net_predicting_1_and_2()
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [1.0, 1.0], [0.5, -1.0]])
    y = np.array([2, 1, 2, 0, 1])
    fig = plot.decision_regions(net, X, y)
    ax = fig.axes[0]
    points = [(-0.6, -0.5), (0.6, -0.5), (-0.3, 0.6), (0.3, 0.6)]
    assert net.predict_classes(points).tolist() == [2, 1, 2, 1]
    assert_painted(fig, ax, points, [2, 1, 2, 1])
    assert legend_texts(ax) == ["class 0 (predicted nowhere here)", "class 1", "class 2"]
    assert "4 of 5 samples classified correctly" in ax.get_title()
    render(fig, tmp_path, "three_classes")


def test_a_model_predicting_class_1_everywhere_is_painted_class_1():
    net = bp.Network([2, 1], output="sigmoid", loss="log_loss", dtype="float64")
    net.layers[1].W = [[0.0, 0.0]]
    net.layers[1].b = [10.0]
    X, y = bp.datasets.xor()[:2]
    fig = plot.decision_regions(net, X, y)
    assert_painted(fig, fig.axes[0], [(0.5, 0.5), (0.2, 0.8), (0.9, 0.1)], [1, 1, 1])
    assert legend_texts(fig.axes[0]) == ["class 0 (predicted nowhere here)", "class 1"]


def test_the_perceptron_picture_draws_its_line_and_its_predictions():
    X, y = bp.datasets.xor()[:2]
    perceptron = bp.Perceptron(seed=0).fit(X, y, epochs=100)
    fig = plot.decision_regions(perceptron, X, y)
    ax = fig.axes[0]
    (line,) = [line for line in ax.lines if line.get_label().startswith("the unit's line")]
    ends = np.column_stack(line.get_data())
    np.testing.assert_allclose(ends @ perceptron.w + perceptron.b, 0.0, atol=1e-9)
    assert "outside this view" not in line.get_label()  # the view is widened to show it
    low, high = ax.get_ylim()
    x_mid = float(np.mean(ax.get_xlim()))
    on_line = -(perceptron.w[0] * x_mid + perceptron.b) / perceptron.w[1]
    assert low < on_line < high
    probes = [(0.5, 0.5), (0.2, 0.8), (x_mid, (on_line + low) / 2)]
    assert_painted(fig, ax, probes, perceptron.predict(probes).tolist())
    assert "2 of 4 samples classified correctly" in ax.get_title()


def test_regression_networks_and_targets_are_refused():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    regression = bp.Network([2, 3, 1], output="identity", loss="squared", seed=0)
    with pytest.raises(ValueError, match="regression network"):
        plot.decision_regions(regression, X, [0, 1])
    classifier = bp.Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"class labels.*y\[0\] = 0.25"):
        plot.decision_regions(classifier, X, [0.25, 1.0])
    multi_label = bp.Network([2, 3, 2], output="sigmoid", loss="log_loss", seed=0)
    with pytest.raises(ValueError, match="multi-label"):
        plot.decision_regions(multi_label, X, [0, 1])
    with pytest.raises(ValueError, match="2-D inputs"):
        plot.decision_regions(classifier, np.ones((3, 3)), [0, 1, 0])
    with pytest.raises(TypeError, match="Network, Perceptron or DeltaRuleUnit"):
        plot.decision_regions(object(), X, [0, 1])
    with pytest.raises(ValueError, match="resolution must be an integer >= 2"):
        plot.decision_regions(classifier, X, [0, 1], resolution=1)
    with pytest.raises(ValueError, match="not trained"):
        plot.decision_regions(bp.Perceptron(), X, [0, 1])


def test_the_demo_draws_the_perceptron_and_the_network(tmp_path):
    text = demo_xor(0, str(tmp_path))
    assert "xor_perceptron.png" in text
    for name in ("xor_perceptron.png", "xor_two_layers.png", "xor_history.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE)


# -- the network picture ----------------------------------------------------------------------


def test_the_network_picture_labels_every_number():
    trace = mazur_trace()
    fig = plot.network(trace)
    ax = fig.axes[0]
    assert len(edges(ax)) == 8
    assert texts(ax, "weight")["0.1->1.0"] == "w=0.2"  # W¹[0, 1]: from input 2 to hidden 1
    assert texts(ax, "share")["1.0->2.0"] == f"w·δ={0.40 * trace.delta[2][0, 0]:.2g}"
    assert texts(ax, "below")["1.0"] == f"δ={trace.delta[1][0, 0]:.3g}\nb=0.35"
    assert texts(ax, "target") == {"0": "y=0.01", "1": "y=0.99"}
    assert "E = 0.2984" in ax.get_title()
    assert "w·δ" in fig.axes[1].get_ylabel() and "δ" in fig.axes[1].get_ylabel()


def test_hidden_deltas_are_visible_and_text_is_readable_on_dark_nodes():
    fig = plot.network(mazur_trace())
    ax = fig.axes[0]
    nodes = {c.get_gid()[5:]: c.get_facecolor()[0][:3] for c in ax.collections if c.get_gid()}
    neutral = np.array(matplotlib.colormaps["coolwarm"](0.5)[:3])
    for hidden in ("1.0", "1.1"):  # δ ≈ 0.009, a sixteenth of the output's 0.14
        assert np.abs(nodes[hidden] - neutral).max() > 0.2
    colours = {t.get_gid()[2:]: t.get_color() for t in ax.texts if (t.get_gid() or "")[:2] == "a "}
    assert colours["2.0"] == "white" and colours["0.0"] == "black"  # dark red node, grey node


def test_skip_edges_carry_their_own_columns_of_W():
    net = bp.Network([2, bp.Layer(2, "tanh"), bp.Layer(1, "sigmoid", inputs=[0, 1])], seed=3)
    W = np.asarray(net.layers[2].W, dtype=float)  # columns: [x₁, x₂, a¹₁, a¹₂]
    trace = net.backprop([[0.5, -1.0]], [[1.0]])
    ax = plot.network(trace).axes[0]
    expected = {
        f"{s}.{j}->{t}.{i}"
        for s, t, n, m in [(0, 1, 2, 2), (0, 2, 2, 1), (1, 2, 2, 1)]
        for j in range(n)
        for i in range(m)
    }
    assert set(edges(ax)) == expected
    weights, shares = texts(ax, "weight"), texts(ax, "share")
    delta = float(trace.delta[2][0, 0])
    for source, columns in ((0, [0, 1]), (1, [2, 3])):
        for j, column in enumerate(columns):
            assert weights[f"{source}.{j}->2.0"] == f"w={W[0, column]:.3g}"
            assert shares[f"{source}.{j}->2.0"] == f"w·δ={W[0, column] * delta:.2g}"
    skip = edges(ax)["0.0->2.0"].get_ydata()
    assert skip.max() > 0.5 + 0.2  # arcs over layer 1 instead of running through its units
    assert "[a⁰, a¹]" in texts_of(ax)


def texts_of(ax):
    return " ".join(t.get_text() for t in ax.texts)


def test_a_residual_sum_draws_an_edge_from_each_summed_layer():
    net = bp.Network(
        [
            2,
            bp.Layer(2, "relu"),
            bp.Layer(2, "relu"),
            bp.Layer(2, "identity", inputs=[1, 2], combine="sum"),
            bp.Layer(1, "sigmoid"),
        ],
        seed=0,
    )
    ax = plot.network(net.backprop([[1.0, 2.0]], [[1.0]])).axes[0]
    drawn = edges(ax)
    assert len(drawn) == 4 + 4 + 2 * 4 + 2
    for j in range(2):
        for i in range(2):
            from_1, from_2 = drawn[f"1.{j}->3.{i}"], drawn[f"2.{j}->3.{i}"]
            assert from_1.get_color() == from_2.get_color()  # the same W[i, j] and δ³ᵢ
    assert "a¹ + a²" in texts_of(ax)


def test_nodes_and_edges_share_one_colour_scale():
    net = bp.Network([1, 2, 1], dtype="float64", seed=0)
    net.layers[2].W = [[1.0, 0.25]]
    trace = net.backprop([[0.3]], [[1.0]])
    ax = plot.network(trace).axes[0]
    node = next(c for c in ax.collections if c.get_gid() == "node 2.0").get_facecolor()[0]
    np.testing.assert_allclose(matplotlib.colors.to_rgba(edges(ax)["1.0->2.0"].get_color()), node)
    assert edges(ax)["1.1->2.0"].get_color() != edges(ax)["1.0->2.0"].get_color()


def test_network_picture_refuses_wide_layers_and_missing_samples():
    trace = bp.Network([2, 30, 1], seed=0).backprop([[0.0, 1.0]], [1.0])
    with pytest.raises(ValueError, match="30 units"):
        plot.network(trace)
    with pytest.raises(ValueError, match="sample must be in 0..0"):
        plot.network(mazur_trace(), sample=1)


# -- curves -----------------------------------------------------------------------------------


def recorded_history(best_epoch):
    history = History()
    for loss, val_loss, accuracy in [
        (0.9, 1.0, 0.5),
        (0.5, 0.6, 0.7),
        (0.3, 0.4, 0.8),
        (0.2, 0.5, 0.7),
    ]:
        logs = {"loss": loss, "val_loss": val_loss, "val_accuracy": accuracy}
        history.append(logs, {"mean_abs_delta": [0.01, 0.1], "grad_norm": [0.1, 1.0]})
    history.best_epoch = best_epoch
    return history


def test_history_curves_have_their_own_colours_and_mark_the_best_epoch(tmp_path):
    fig = plot.history(recorded_history(best_epoch=2))
    curves = [
        line
        for ax in fig.axes
        for line in ax.lines
        if line.get_label() in ("training loss", "validation loss", "validation accuracy")
    ]
    assert len(curves) == 3 and len({line.get_color() for line in curves}) == 3
    markers = [line for ax in fig.axes for line in ax.lines if line.get_gid() == "best epoch"]
    assert sorted((line.get_xdata()[0], line.get_ydata()[0]) for line in markers) == [
        (3, 0.3),
        (3, 0.4),
        (3, 0.8),
    ]
    assert "best epoch 3 (early stopping)" in legend_texts(fig.axes[0])
    render(fig, tmp_path, "history")
    unmarked = plot.history(recorded_history(best_epoch=None))
    assert not [line for ax in unmarked.axes for line in ax.lines if line.get_gid() == "best epoch"]


def test_gradient_norms_of_all_zero_deltas_draw_a_sane_axis(tmp_path):
    history = History()
    for _ in range(4):
        history.append({"loss": 0.7}, {"mean_abs_delta": [0.0, 0.0], "grad_norm": [0.0, 0.0]})
    fig = plot.gradient_norms(history)
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (-1.0, 1.0)
    assert "no error signal reached any layer" in texts_of(ax)
    render(fig, tmp_path, "zero_deltas")


def test_gradient_norms_name_a_dead_layer_and_keep_a_log_axis():
    history = History()
    for value in (0.1, 0.05, 0.02):
        history.append({"loss": value}, {"mean_abs_delta": [0.0, value], "grad_norm": [0.0, value]})
    ax = plot.gradient_norms(history, "grad_norm").axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] > 1e-3
    assert legend_texts(ax) == ["layer 1: all zero, not drawn", "layer 2 (output)"]
    assert ax.get_ylabel().startswith("‖∂E/∂W‖")
    with pytest.raises(ValueError, match="which must be one of"):
        plot.gradient_norms(history, "gradnorm")


def test_layer_deltas_bars_are_each_layers_mean_abs_delta(tmp_path):
    X, y = bp.datasets.two_moons(n_samples=64, noise=0.2, seed=0)[:2]
    traces = {}
    for hidden in ("sigmoid", "relu"):
        net = bp.Network(
            [2, 8, 8, 8, 2], hidden=hidden, output="softmax", loss="cross_entropy", seed=0
        )
        traces[hidden] = net.backprop(X, y)
    fig = plot.layer_deltas(traces)
    ax = fig.axes[0]
    for container, trace in zip(ax.containers, traces.values(), strict=True):
        heights = [bar.get_height() for bar in container]
        np.testing.assert_allclose(heights, [np.abs(d).mean() for d in trace.delta[1:]], rtol=1e-6)
    assert [t.split(":")[0] for t in legend_texts(ax)] == ["sigmoid", "relu"]
    assert ax.get_yscale() == "log"
    render(fig, tmp_path, "layer_deltas")


def test_every_picture_of_a_trained_run_renders(tmp_path):
    X, y = bp.datasets.two_moons(n_samples=200, noise=0.15, seed=0)[:2]
    net = bp.Network([2, 8, 8, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = net.fit(X, y, epochs=30, optimizer="adam", lr=0.02, validation_split=0.2)
    render(plot.decision_regions(net, X, y), tmp_path, "regions")
    render(plot.history(history), tmp_path, "history")
    render(plot.gradient_norms(history), tmp_path, "gradients")
    assert len(plot.gradient_norms(history).axes[0].get_lines()) == 3


def test_fold_histories_give_each_fold_its_colour_and_mark_its_kept_epoch(tmp_path):
    folds = [recorded_history(best_epoch=2), recorded_history(best_epoch=1)]
    folds[1].records["val_loss"] = [1.1, 0.45, 0.5, 0.55]
    fig = plot.fold_histories(folds)
    ax = fig.axes[0]
    solid = [line for line in ax.lines if line.get_label() in ("fold 1", "fold 2")]
    dashed = [line for line in ax.lines if line.get_label() == "_val"]
    assert len(solid) == len(dashed) == 2
    assert [line.get_color() for line in solid] == [line.get_color() for line in dashed]
    assert solid[0].get_color() != solid[1].get_color()
    assert {line.get_linestyle() for line in dashed} == {"--"}
    markers = [line for line in ax.lines if line.get_gid() == "epoch kept"]
    assert [(line.get_xdata()[0], line.get_ydata()[0], line.get_color()) for line in markers] == [
        (3, 0.4, solid[0].get_color()),
        (2, 0.45, solid[1].get_color()),
    ]
    key = legend_texts(ax)
    assert {"fold 1", "fold 2", "training loss", "validation loss (its own fold)"} <= set(key)
    assert "epoch kept" in key and ax.get_title() == "Learning curves of the 2 fold networks"
    render(fig, tmp_path, "fold_histories")
    with pytest.raises(ValueError, match="at least one history"):
        plot.fold_histories([])
