"""The chain rule factor by factor (trace.chain_rule) and nudge-and-check (trace.nudge)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_delta_rule import MAZUR_X, MAZUR_Y, mazur_network

import backprop as bp
from backprop.explain import Partial, Symbol, nudge_section, render

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def three_layers():
    net = bp.Network([3, 4, 3, 2], hidden="tanh", output="sigmoid", seed=4, dtype="float64")
    return net.backprop([[0.05, 0.10, -0.3]], [[0.01, 0.99]])


def skip():
    net = bp.Network(
        [2, bp.Layer(2, "tanh"), bp.Layer(2, "relu"), bp.Layer(1, "identity", inputs=[0, 1, 2])],
        seed=2,
        dtype="float64",
    )
    return net.backprop([[0.5, -1.0]], [[0.3]])


def softmax():
    net = bp.Network(
        [2, 3, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1, dtype="float64"
    )
    return net.backprop([[0.5, -1.0]], [2])


TRACES = {
    "mazur": lambda: mazur_network().backprop(MAZUR_X, MAZUR_Y),
    "three layers": three_layers,
    "skip": skip,
    "softmax": softmax,
}


def weights(trace):
    for l in range(1, len(trace.a)):
        n_out, n_in = trace.W[l].shape
        for i in range(n_out):
            for j in range(n_in):
                yield l, i, j


@pytest.mark.parametrize("name", sorted(TRACES))
def test_the_product_of_the_factors_is_the_gradient_for_every_weight(name):
    trace = TRACES[name]()
    for l, i, j in weights(trace):
        section = trace.chain_rule(l, i, j)
        w = Symbol("w", l, (i, j))
        product = next(s for s in section.steps if s.symbol == Partial(Symbol("E"), w))
        factors = [s for s in section.steps[: section.steps.index(product)]]
        assert product.symbol.top == Symbol("E")
        assert [f.symbol for f in factors] == [t for t in product.formula if isinstance(t, Partial)]
        assert product.value == math.prod(f.value for f in factors)
        assert abs(product.value - trace.grad_W[l][i, j]) <= 1e-12, (l, i, j)
        grouped = section.steps[-1]  # ∂E/∂w = δ·u, the delta rule's grouping
        assert grouped.symbol == product.symbol and grouped.formula[0] == Symbol("delta", l, (i,))
        assert abs(grouped.value - trace.grad_W[l][i, j]) <= 1e-12


def test_mazur_w5_and_w1_factor_by_factor_as_his_page_writes_them():
    trace = TRACES["mazur"]()
    w5 = trace.chain_rule(2, 0, 0).steps
    assert [round(step.value, 9) for step in w5[:4]] == [
        0.74136507,  # ∂E/∂out_o1 = out_o1 − target_o1
        0.186815602,  # ∂out_o1/∂net_o1 = out(1 − out)
        0.593269992,  # ∂net_o1/∂w5 = out_h1
        0.082167041,  # their product
    ]
    w1 = trace.chain_rule(1, 0, 0).steps
    assert [round(step.value, 9) for step in w1[:4]] == [
        0.036350306,  # ∂E_total/∂out_h1, his 0.036350306
        0.241300709,
        0.05,
        0.000438568,
    ]
    text = render([trace.chain_rule(1, 0, 0)], precision=9)
    assert "∂E/∂w¹₁₁ = ∂E/∂a¹₁·∂a¹₁/∂z¹₁·∂z¹₁/∂w¹₁₁ = 0.0363503064·0.241300709·0.05" in text
    assert "∂E/∂a¹₁ = ∂E/∂z²₁·∂z²₁/∂a¹₁ + ∂E/∂z²₂·∂z²₂/∂a¹₁ = 0.138498562·0.4 + " in text
    assert "δ¹₁ = ∂E/∂a¹₁·∂a¹₁/∂z¹₁ = 0.0363503064·0.241300709 = 0.00877135469" in text


def test_a_batch_shows_sample_one_then_the_batch_gradient():
    net = bp.Network([2, 2, 1], seed=0, dtype="float64")
    trace = net.backprop([[0.0, 1.0], [1.0, 0.5]], [1.0, 0.0])
    steps = trace.chain_rule(1, 1, 0).steps
    assert steps[0].symbol.top == Symbol("J", None, (0,))
    assert steps[-1].symbol == Partial(Symbol("E"), Symbol("w", 1, (1, 0)))
    assert steps[-1].value == trace.grad_W[1][1, 0]


@pytest.mark.parametrize("format", ["text", "markdown", "latex"])
def test_the_chain_renders_in_every_format(format):
    section = TRACES["skip"]().chain_rule(1, 1, 0)
    text = render([section], format)
    if format == "latex":
        assert text.isascii() and "\\frac{\\partial E}{\\partial a^{(1)}_{2}}" in text
    assert len(section.steps) == 6


def test_bad_weights_are_refused():
    trace = TRACES["mazur"]()
    for args, message in [
        ((3, 0, 0), "layer"),
        ((0, 0, 0), "layer"),
        ((1, 2, 0), "i must"),
        ((1, 0, -1), "j must"),
        ((1.0, 0, 0), "layer"),
    ]:
        with pytest.raises(ValueError, match=message):
            trace.chain_rule(*args)
        with pytest.raises(ValueError, match=message):
            trace.nudge(*args)


# -- nudge and check ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mazur", "three layers", "skip"])
def test_a_nudge_agrees_with_the_gradient_to_order_eps_squared(name):
    trace = TRACES[name]()
    for l, i, j in [(1, 0, 1), (len(trace.a) - 1, 0, 0), (1, 1, None)]:
        gaps = []
        for eps in (1e-2, 1e-3, 1e-4):
            nudge = trace.nudge(l, i, j, eps)
            gradient = trace.grad_W[l][i, j] if j is not None else trace.grad_b[l][i]
            assert nudge.predicted == gradient * eps
            gaps.append(abs(nudge.measured - nudge.predicted))
            assert gaps[-1] <= 10 * eps**2, (l, i, j, eps)
        if gaps[0] > 1e-12:  # a curved direction: a tenth of ε, about a hundredth of the gap
            assert gaps[1] / gaps[0] == pytest.approx(0.01, rel=0.2)
            assert gaps[2] / gaps[1] == pytest.approx(0.01, rel=0.2)


def test_a_nudge_leaves_the_trace_and_the_network_alone():
    net = mazur_network()
    trace = net.backprop(MAZUR_X, MAZUR_Y)
    before = net.params.copy()
    nudge = trace.nudge(2, 0, 0, eps=1e-3)
    np.testing.assert_array_equal(net.params, before)
    assert trace.W[2][0, 0] == 0.4 and nudge.before == pytest.approx(trace.loss, rel=1e-15)


def test_a_float32_trace_is_nudged_in_float64():
    trace = mazur_network("float32").backprop(MAZUR_X, MAZUR_Y)
    nudge = trace.nudge(1, 0, 0, eps=1e-4)
    assert nudge.measured == pytest.approx(nudge.predicted, rel=1e-5)


def test_the_nudge_section_sets_the_two_changes_side_by_side():
    trace = TRACES["mazur"]()
    section = nudge_section(trace, 1, 0, 0, eps=1e-4)
    measured, predicted, gap = section.steps
    assert measured.value == pytest.approx(predicted.value, rel=1e-5)
    assert gap.value == measured.value - predicted.value
    text = render([section], precision=6)
    assert "ΔE = E(w¹₁₁ + ε) - E(w¹₁₁) = " in text
    assert "ΔE ≈ ∂E/∂w¹₁₁·ε = 0.000438568·0.0001 = 4.38568e-08" in text
    with pytest.raises(ValueError, match="eps"):
        trace.nudge(1, 0, 0, eps=0.0)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "backprop", *args], capture_output=True, text=True, timeout=300
    )


MAZUR = ("explain", str(EXAMPLES / "mazur.json"), "--input", "0.05,0.10", "--target", "0.01,0.99")


def test_the_command_line_writes_the_chain_and_the_nudge():
    result = run(*MAZUR, "--chain", "1,1,1", "--nudge", "2,1,1", "--eps", "1e-3")
    assert result.returncode == 0, result.stderr
    assert "∂E/∂w¹₁₁ = ∂E/∂a¹₁·∂a¹₁/∂z¹₁·∂z¹₁/∂w¹₁₁ = 0.0363503·0.241301·0.05" in result.stdout
    assert "ΔE ≈ ∂E/∂w²₁₁·ε = 0.082167·0.001" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("--chain", "3,1,1"), "layer must be in 1..2"),
        (("--chain", "1,3,1"), "i in 1..2"),
        (("--chain", "1,1"), "LAYER,I,J"),
        (("--nudge", "a,b,c"), "LAYER,I,J"),
        (("--nudge", "1,1,1", "--eps", "0"), "--eps"),
    ],
)
def test_bad_chain_and_nudge_options_exit_2(args, message):
    result = run(*MAZUR, *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_on_a_device_backend_the_teaching_tools_run_on_a_host_copy():
    from strict_backend import STRICT

    sizes = [2, bp.Layer(3, "tanh", train_bias=False), bp.Layer(2, "softmax")]
    options = dict(loss="cross_entropy", dtype="float64", seed=4)
    host, device = bp.Network(sizes, **options), bp.Network(sizes, backend=STRICT, **options)
    X, y = [[0.5, -1.0], [0.2, 0.3]], [1, 0]
    on_host, on_device = host.backprop(X, y), device.backprop(X, y)
    assert on_device.explain(lr=0.1) == on_host.explain(lr=0.1)
    assert on_device.chain_rule(1, 2, 1) == on_host.chain_rule(1, 2, 1)
    assert on_device.nudge(2, 1, 0) == on_host.nudge(2, 1, 0)
    curve = bp.explain.error_curve_section
    assert curve(on_device, 0.1, 30) == curve(on_host, 0.1, 30)
