"""Worked solutions written by trace.explain()."""

import re

import numpy as np
import pytest
from test_delta_rule import MAZUR_X, MAZUR_Y, mazur_network

import backprop as bp
from backprop.explain import SECTION_KINDS, Number, Symbol, numbers, sections, steps
from backprop.explain.data import PLUS

PUBLISHED = [
    "0.593269992",
    "0.596884378",  # hidden outputs
    "0.75136507",
    "0.772928465",  # outputs
    "0.298371109",  # total error
    "0.35891648",
    "0.408666186",
    "0.51130127",
    "0.561370121",  # w5..w8 after one step
    "0.149780716",
    "0.19956143",
    "0.24975114",
    "0.29950229",  # w1..w4 after one step
]


@pytest.mark.parametrize("format", ["text", "markdown", "latex"])
def test_mazur_worked_solution_contains_the_published_values(format):
    text = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain(format, precision=9, lr=0.5)
    text = text.replace("$", "")  # LaTeX sets the numbers of its notes in math
    numbers = [float(x) for x in re.findall(r"-?\d+\.\d+", text)]
    for value in PUBLISHED:
        assert any(abs(x - float(value)) < 6e-9 for x in numbers), value
    assert "the error went from 0.298371109 to 0.280471447 (down)" in text


def test_text_shows_each_product_and_the_delta_rule_terms():
    text = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain(precision=9, lr=0.5)
    assert "z¹₁ = w¹₁₁·a⁰₁ + w¹₁₂·a⁰₂ + b¹₁ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in text
    assert "δ¹₁ = f'(z¹₁)·(w²₁₁·δ²₁ + w²₂₁·δ²₂)" in text
    assert "∂E/∂w²₁₁ = δ²₁·a¹₁ = 0.138498562·0.593269992 = 0.0821670406" in text
    assert "w²₁₁ ← 0.4 - η·0.0821670406 = 0.35891648" in text
    assert "shapes (1×2)·(2×2) + (2) → (1×2)" in text


def test_latex_is_balanced_ascii_math():
    latex = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain("latex", lr=0.5)
    assert latex.isascii()
    assert latex.count("{") == latex.count("}")
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") > 5
    depth = 0
    for char in latex:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", latex, re.S):
        for row in block.split("\\\\"):
            assert row.count("&") == 1 and ("&=" in row or "&\\leftarrow" in row)


def test_markdown_wraps_every_equation_in_math():
    md = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain("markdown")
    equations = [line for line in md.splitlines() if line.startswith("- ")]
    assert equations and all(line.startswith("- $") and line.endswith("$") for line in equations)
    assert "### Forward pass, layer 1 (sigmoid)" in md


def test_canonical_pair_names_the_short_form():
    net = bp.Network([2, 3, 1], output="sigmoid", loss="log_loss", seed=0)
    text = net.backprop([[1.0, 0.0]], [1.0]).explain()
    assert "canonical pair" in text and "δ²₁ = o₁ - y₁" in text


def test_large_networks_are_summarised_per_layer():
    net = bp.Network([20, 30, 3], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 20))
    text = net.backprop(X, [0, 1, 2, 0, 1]).explain(lr=0.1)
    assert "too large" in text and "shape 30×20" in text and "Second forward pass" in text
    assert "w¹₁₁" not in text


def test_batches_show_the_first_sample_and_mean_gradients():
    net = bp.Network([2, 2, 1], seed=0)
    text = net.backprop([[0.0, 1.0], [1.0, 0.0]], [1.0, 0.0]).explain()
    assert "A batch of 2 samples" in text and "Σₙ sₙ δ2ₙᵀ·a1ₙ" in text


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format"):
        mazur_network().backprop(MAZUR_X, MAZUR_Y).explain("html")


# --- the worked solution as data ---------------------------------------------------------------


def mazur_trace():
    return mazur_network().backprop(MAZUR_X, MAZUR_Y)


def sum_of_products(tokens):
    """The value of x·y + u·v + … written as tokens."""
    total, product = 0.0, 1.0
    for token in tokens:
        if token == PLUS:
            total, product = total + product, 1.0
        elif isinstance(token, Number):
            product *= token.value
    return total + product


def value_in_trace(trace, symbol):
    """The number a symbol of the derivation stands for, read from the trace (sample 1)."""
    l, units = symbol.layer, symbol.units
    arrays = {"w": trace.W, "b": trace.b}
    if symbol.name in arrays:
        return arrays[symbol.name][l][units]
    per_sample = {"z": trace.z, "a": trace.a, "delta": trace.delta}
    return per_sample[symbol.name][l][0][units]


def test_sections_and_steps_follow_the_derivation_in_order():
    trace = mazur_trace()
    kinds = [section.kind for section in sections(trace, lr=0.5)]
    assert kinds == [
        "preamble",
        *["forward"] * 2,
        "error",
        "output_delta",
        "hidden_delta",
        *["gradient"] * 2,
        "update",
        "second_forward",
    ]
    step_kinds = [step.section for step in steps(trace, lr=0.5)]
    order = [SECTION_KINDS.index(kind) for kind in step_kinds]
    assert order == sorted(order)
    counts = {kind: step_kinds.count(kind) for kind in dict.fromkeys(step_kinds)}
    assert counts == {
        "forward": 8,  # z and a for 4 units
        "error": 1,
        "output_delta": 2,
        "hidden_delta": 2,
        "gradient": 12,  # 8 weights and 4 biases
        "update": 12,
    }
    assert [section.layer for section in sections(trace) if section.kind == "gradient"] == [2, 1]


def test_forward_steps_substitute_numbers_that_compute_their_values():
    trace = mazur_trace()
    forward = [step for step in steps(trace) if step.section == "forward"]
    for step in forward:
        l, (i,) = step.layer, step.units
        if step.symbol.name == "z":
            assert abs(sum_of_products(step.substituted) - step.value) < 1e-12
            assert step.value == trace.z[l][0, i]
            for symbol, number in zip(step.formula, step.substituted, strict=True):
                if isinstance(symbol, Symbol):
                    assert number.value == value_in_trace(trace, symbol), symbol
        else:
            (z,) = numbers(step.substituted)
            activation = trace.network.layers[l].activation
            assert z == trace.z[l][0, i]
            assert abs(activation(np.array([[z]]))[0, 0] - step.value) < 1e-12
    assert {step.symbol.name for step in forward} == {"z", "a"} and len(forward) == 8


def test_gradient_steps_pair_each_symbol_with_its_number():
    trace = mazur_trace()
    for step in steps(trace):
        if step.section == "gradient" and step.symbol.name == "dE/dw":
            delta, a_below = numbers(step.substituted)
            assert delta * a_below == pytest.approx(step.value, rel=1e-12)
            for symbol, number in zip(step.formula, step.substituted, strict=True):
                if isinstance(symbol, Symbol):
                    assert number.value == value_in_trace(trace, symbol), symbol


@pytest.mark.parametrize(
    "network",
    [
        mazur_network,
        lambda: bp.Network([3, 4, 3, 2], hidden="tanh", output="sigmoid", seed=4, dtype="float64"),
        lambda: bp.Network(
            [3, 4, 2], hidden="softplus", output="identity", seed=5, dtype="float64"
        ),
    ],
)
def test_every_hidden_delta_is_the_product_it_shows(network):
    net = network()
    X = [[0.05, 0.10, -0.3][: net.layers[0].size]]
    trace = net.backprop(X, [[0.01, 0.99]])
    hidden = [step for step in steps(trace) if step.section == "hidden_delta"]
    assert len(hidden) == sum(layer.size for layer in net.layers[1:-1])
    for step in hidden:
        derivative, *_ = numbers(step.substituted)
        activation = net.layers[step.layer].activation
        l, (j,) = step.layer, step.units
        assert derivative == activation.derivative(trace.z[l][:1], trace.a[l][:1])[0, j]
        product = derivative * sum_of_products(step.substituted[3:-1])  # inside f'·( … )
        assert product == pytest.approx(step.value, rel=1e-12, abs=1e-15)


def test_update_steps_subtract_eta_times_the_gradient():
    lr = 0.5
    for step in steps(mazur_trace(), lr=lr):
        if step.section == "update":
            value, gradient = numbers(step.substituted)
            assert step.relation == "←"
            assert step.value == pytest.approx(value - lr * gradient, rel=1e-15)


@pytest.mark.parametrize("lr", [None, 0.5])
def test_the_three_renderers_write_one_equation_per_step(lr):
    traces = [
        mazur_trace(),
        bp.Network([2, 2, 1], seed=0).backprop([[0.0, 1.0], [1.0, 0.0]], [1.0, 0.0]),
    ]
    for trace in traces:
        count = len(steps(trace, lr=lr))
        text = trace.explain(lr=lr)
        md = trace.explain("markdown", lr=lr)
        latex = trace.explain("latex", lr=lr)
        assert sum(line.startswith("  ") for line in text.splitlines()) == count
        assert sum(line.startswith("- $") for line in md.splitlines()) == count
        blocks = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", latex, re.S)
        assert sum(len(block.split("\\\\")) for block in blocks) == count


def leaky_network():
    """A leaky_relu(0.2) hidden layer, with an input that makes z¹₁ negative."""
    net = bp.Network(
        [2, bp.Layer(2, bp.activations.leaky_relu(0.2)), bp.Layer(1, "sigmoid")],
        dtype="float64",
    )
    net.layers[1].W = [[-1.0, 0.5], [0.5, 0.5]]
    net.layers[1].b = [0.0, 0.0]
    net.layers[2].W = [[0.3, -0.7]]
    net.layers[2].b = [0.1]
    return net.backprop([[1.0, 0.5]], [[1.0]])


def test_leaky_relu_hidden_layer_is_written_with_its_own_slope():
    trace = leaky_network()
    assert trace.z[1][0, 0] < 0 < trace.z[1][0, 1]
    text = trace.explain(precision=12)
    assert "f'(z) = 1 if z > 0 else 0.2." in text
    (line,) = [line.strip() for line in text.splitlines() if line.strip().startswith("δ¹₁ =")]
    assert line.startswith("δ¹₁ = f'(z¹₁)·(w²₁₁·δ²₁) = 0.2·(0.3·")
    derivative, w, delta_above, delta = (
        float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", line.split(" = ", 2)[2])
    )
    assert derivative == 0.2 and w == 0.3
    assert delta == pytest.approx(derivative * w * delta_above, rel=1e-11)
    assert delta == pytest.approx(trace.delta[1][0, 0], rel=1e-11)
    hidden = [step for step in steps(trace) if step.section == "hidden_delta"]
    assert [numbers(step.substituted)[0] for step in hidden] == [0.2, 1.0]


@pytest.mark.parametrize(
    ("output", "loss"),
    [
        ("softmax", "squared"),
        ("exp", "poisson"),  # a canonical pair
        ("sigmoid", "cross_entropy"),
        ("identity", bp.losses.huber(0.5)),
    ],
)
def test_every_pair_writes_ascii_latex_and_true_output_deltas(output, loss):
    net = bp.Network([2, 3, 3], hidden="tanh", output=output, loss=loss, seed=1, dtype="float64")
    trace = net.backprop([[0.5, -1.0]], [[0.2, 0.7, 0.1]])
    latex = trace.explain("latex", lr=0.1)
    assert latex.isascii() and latex.count("{") == latex.count("}")
    activation, canonical = net.layers[-1].activation, net.loss.canonical == output
    deltas = [step for step in steps(trace) if step.section == "output_delta"]
    assert len(deltas) == 3
    for step in deltas:
        if canonical:
            o, y = numbers(step.substituted)
            assert o - y == pytest.approx(step.value, rel=1e-12)
        elif activation.elementwise:
            derivative, error = numbers(step.substituted)
            assert derivative * error == pytest.approx(step.value, rel=1e-12)
        else:  # the Jacobian product o·(g − Σ g o)
            o, g, weighted = numbers(step.substituted)
            assert o * (g - weighted) == pytest.approx(step.value, rel=1e-12)
