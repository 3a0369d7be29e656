"""Worked solutions written by trace.explain()."""

import re

import numpy as np
import pytest
from test_delta_rule import MAZUR_X, MAZUR_Y, mazur_network

import backprop as bp

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
            assert row.count("&=") == 1


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
    assert "A batch of 2 samples" in text and "/ N" in text


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format"):
        mazur_network().backprop(MAZUR_X, MAZUR_Y).explain("html")
