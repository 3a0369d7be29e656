"""Worked solutions that are right and read right: every substituted formula computes its value
(batches and skip connections included), numbers at the dtype's precision, updates that show
their change, long tables shortened, Markdown tables, and LaTeX that is ASCII and compiles."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_delta_rule import MAZUR_X, MAZUR_Y, mazur_network

import backprop as bp
from backprop.explain import (
    Notation,
    Number,
    Operator,
    Symbol,
    error_curve_section,
    render,
    sections,
    shown_steps,
    steps,
)
from backprop.explain.data import Section, Step

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PYTHON_OPERATORS = {"+": "+", "-": "-", "·": "*", "/": "/", "(": "(", ")": ")"}


def evaluate(tokens, lr=None):
    """The value of substituted tokens as arithmetic, or None where they are not arithmetic."""
    parts = []
    for token in tokens:
        if isinstance(token, Number):
            parts.append(repr(token.value))
        elif isinstance(token, Operator):
            parts.append(PYTHON_OPERATORS[token.text])
        elif isinstance(token, Notation) and token.text == "exp":
            parts.append("math.exp")
        elif isinstance(token, Symbol) and token.name == "eta" and lr is not None:
            parts.append(repr(lr))
        else:
            return None
    return eval("".join(parts), {"math": math}) if parts else None


def skip_network(combine="concat"):
    """2-2-2-1: layer 3 reads a¹ and a² (concatenated or summed), so a¹ feeds layers 2 and 3."""
    net = bp.Network(
        [
            2,
            bp.Layer(2, "tanh"),
            bp.Layer(2, "tanh"),
            bp.Layer(1, "sigmoid", inputs=[1, 2], combine=combine),
        ],
        dtype="float64",
        seed=3,
    )
    return net.backprop([[0.5, -1.0]], [[1.0]])


def batch_trace(weights=None):
    net = bp.Network(
        [2, 3, 2], hidden="tanh", output="softmax", loss="squared", seed=1, dtype="float64"
    )
    X, Y = [[0.5, -1.0], [0.1, 0.2], [1.0, 1.0]], [[0.2, 0.8], [1, 0], [0, 1]]
    return net.backprop(X, Y, sample_weight=weights)


TRACES = {
    "mazur": lambda: mazur_network().backprop(MAZUR_X, MAZUR_Y),
    "skip": skip_network,
    "residual": lambda: skip_network("sum"),
    "batch": batch_trace,
    "weighted batch": lambda: batch_trace([1.0, 2.0, 0.5]),
    "relu 3 layers": lambda: bp.Network(
        [3, 4, 3, 2], hidden="relu", seed=4, dtype="float64"
    ).backprop([[0.3, -0.2, 0.9]], [[0.0, 1.0]]),
    "softmax": lambda: bp.Network(
        [2, 3, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1, dtype="float64"
    ).backprop([[0.5, -1.0]], [1]),
}


@pytest.mark.parametrize("name", sorted(TRACES))
def test_every_substituted_formula_computes_its_value(name):
    trace, lr = TRACES[name](), 0.5
    checked = 0
    for step in steps(trace, lr=lr):
        value = evaluate(step.substituted, lr)
        if value is not None:
            assert value == pytest.approx(step.value, rel=1e-12, abs=1e-15), step
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("combine", ["concat", "sum"])
def test_a_skip_network_is_written_out_with_bishops_sums(combine):
    trace = skip_network(combine)
    text = trace.explain(lr=0.1)
    assert "too large" not in text
    hidden = {
        step.units: step
        for step in steps(trace)
        if step.section == "hidden_delta" and step.layer == 1
    }
    assert len(hidden) == 2
    for (j,), step in hidden.items():
        feeding = {token.layer for token in step.formula if getattr(token, "name", "") == "delta"}
        assert feeding == {2, 3}  # the unit's delta sums over both layers it feeds
        assert step.value == trace.delta[1][0, j]
    assert "feeds layers 2 and 3" in text and "Bishop" in text
    forward = [step for step in steps(trace) if step.section == "forward" and step.layer == 3]
    inputs = {token.layer for token in forward[0].formula if getattr(token, "name", "") == "a"}
    assert inputs == {1, 2}
    if combine == "sum":
        assert "w³₁₁·(a¹₁ + a²₁)" in text and "u3 = a1 + a2" in text
    else:
        assert "w³₁₃·a²₁" in text and "u3 = [a1, a2]" in text


def test_a_batch_names_sample_one_and_gives_the_batch_error():
    trace = batch_trace()
    section = [s for s in sections(trace) if s.kind == "error"][0]
    first, total = section.steps
    o, y = trace.a[-1][0], trace.Y[0]
    assert first.symbol == Symbol("J", None, (0,))
    assert first.value == pytest.approx(0.5 * np.sum((y - o) ** 2), rel=1e-12)
    assert total.symbol == Symbol("E") and total.value == trace.loss
    assert first.value != pytest.approx(total.value)
    text = trace.explain(lr=0.1)
    assert "y = (0.2, 0.8) (sample 1)." in text and "E = (1/3) Σₙ Jₙ" in text
    assert "New output of sample 1" in text and "the batch error went from" in text
    weighted = batch_trace([1.0, 2.0, 0.5]).explain()
    assert "E = Σₙ sₙ Jₙ" in weighted and "sample weights" in weighted


def test_numbers_are_shown_at_the_precision_the_dtype_carries():
    text = mazur_network("float32").backprop(MAZUR_X, MAZUR_Y).explain(precision=12, lr=0.5)
    assert "0.150000006" not in text and "0.15·0.05" in text
    assert "float32, which carries about 7 significant digits" in text
    for number in re.findall(r"\d+\.\d+(?:e-?\d+)?", text):
        digits = re.sub(r"e.*", "", number).replace(".", "").lstrip("0")
        assert len(digits) <= 7, number
    wide = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain(precision=30)
    assert (
        max(
            len(re.sub(r"e.*", "", n).replace(".", "").lstrip("0"))
            for n in re.findall(r"\d+\.\d+", wide)
        )
        <= 16
    )


def update_lines(text):
    return [line.strip() for line in text.splitlines() if line.startswith("  ") and " ← " in line]


@pytest.mark.parametrize("lr", [1e-9, 1e-20])
def test_an_update_shows_its_change_or_says_it_is_too_small(lr):
    text = mazur_network().backprop(MAZUR_X, MAZUR_Y).explain(lr=lr)
    lines = update_lines(text)
    assert len(lines) == 12
    for line in lines:
        old = line.split(" ← ")[1].split(" - ")[0]
        new = line.split(" = ")[-1].split()[0]
        if lr == 1e-9:
            assert old != new, line  # widened until the change shows
        else:  # 0.4 - 1e-20·0.08 is 0.4 in float64
            assert old == new and line.endswith("(a step too small to change the value)"), line
    if lr == 1e-9:
        assert "w²₁₁ ← 0.4 - η·0.082167 = 0.3999999999" in text  # the gradient keeps 6 digits


def test_no_minus_zero_and_no_result_in_parentheses():
    net = bp.Network([2, bp.Layer(2, "relu"), bp.Layer(1, "identity")], dtype="float64")
    net.layers[1].W = [[1.0, 0.0], [-1.0, 0.0]]  # unit 2's z is negative: relu' = 0, δ = -0.0
    net.layers[1].b = [0.0, 0.0]
    net.layers[2].W = [[0.5, 0.5]]
    trace = net.backprop([[1.0, 2.0]], [[3.0]])
    assert math.copysign(1.0, trace.delta[1][0, 1]) == -1.0  # the pass really makes a -0.0
    text = trace.explain(lr=0.1)
    assert not re.search(r"(?<![\w.])-0(?![.\de])", text), text
    assert "= (-" not in text
    assert "δ²₁ = o₁ - y₁ = 0.5 - 3 = -2.5" in text  # a negative result, bare
    assert "0·(0.5·(-2.5))" in text  # a negative factor, in parentheses


def test_softmax_is_written_as_a_softmax_and_its_note_defines_g():
    text = TRACES["softmax"]().explain()
    assert "a²₁ = exp(z²₁) / Σₘ exp(z²ₘ) = exp(" in text
    assert "softmax(z" not in text
    squared = bp.Network([2, 3, 3], hidden="tanh", output="softmax", loss="squared", seed=1)
    text = squared.backprop([[0.5, -1.0]], [[0.2, 0.7, 0.1]]).explain()
    assert "g = ∂J/∂o = o − y" in text and "o₁(g₁ - Σₘ gₘ oₘ)" in text


def test_an_activation_without_a_written_derivative_is_not_written_f_prime_equals_f_prime():
    cube = bp.register_activation(
        "cube_explained", lambda z: z**3, lambda z: 3 * z**2, overwrite=True
    )
    net = bp.Network([2, bp.Layer(2, cube), bp.Layer(1, "sigmoid")], seed=0, dtype="float64")
    text = net.backprop([[0.5, 0.2]], [[1.0]]).explain()
    assert "f'(z) = f'(z)" not in text
    assert "f' is the derivative registered with cube_explained" in text


# -- tables --------------------------------------------------------------------------------


def test_long_runs_are_shortened_to_first_some_and_last_rows():
    assert shown_steps(20) == list(range(21))
    rows = shown_steps(10_000)
    assert rows[:6] == list(range(6)) and rows[-3:] == [9_998, 9_999, 10_000] and len(rows) < 25
    trace = mazur_network().backprop(MAZUR_X, MAZUR_Y)
    table = error_curve_section(trace, 0.5, 100).table
    shown = [int(row[0].text) for row in table.rows if row is not None]
    assert shown == shown_steps(100)
    assert table.rows.count(None) == 4  # 5 → 10 → 20 → 50 → 98: a gap before each
    errors = [row[1].value for row in table.rows if row is not None]
    assert errors[0] == trace.loss and errors == sorted(errors, reverse=True)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "backprop", *args], capture_output=True, text=True, timeout=300
    )


MAZUR = ("explain", str(EXAMPLES / "mazur.json"), "--input", "0.05,0.10", "--target", "0.01,0.99")


def test_steps_10000_prints_a_short_table_ending_at_his_error():
    result = run(*MAZUR, "--lr", "0.5", "--steps", "10000")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("Error over 10000 steps")[1].splitlines()
    assert len(table) < 40
    assert table[-1].split() == ["10000", "3.51019e-05"]
    assert table[-2].split() == ["9999", "3.51085e-05"]


def test_markdown_writes_a_real_table():
    result = run(*MAZUR, "--lr", "0.5", "--steps", "30", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines.index("| step | $E$ |")
    assert lines[header - 1] == "" and lines[header + 1] == "|---:|---:|"
    body = lines[header + 2 :]
    rows = [line for line in body if line.startswith("| ") and "…" not in line]
    assert [row.split("|")[1].strip() for row in rows][:7] == ["0", "1", "2", "3", "4", "5", "10"]
    assert "| … | … |" in body


# -- LaTeX ---------------------------------------------------------------------------------


def latex_documents():
    chain = ("--chain", "1,1,2", "--nudge", "2,1,1", "--steps", "25")
    yield "mazur", run(*MAZUR, "--lr", "0.5", "--format", "latex", *chain).stdout
    softmax = EXAMPLES / "softmax_3_class.json"
    args = ("--input", "0.5,-1.0", "--target", "0,1,0", "--lr", "0.1", "--format", "latex")
    yield "softmax", run("explain", str(softmax), *args, *chain).stdout
    for name in ("skip", "residual", "batch", "relu 3 layers"):
        yield name, bp.explain.explain(TRACES[name](), "latex", lr=0.1, standalone=True)


def test_latex_documents_are_complete_and_ascii():
    for name, document in latex_documents():
        assert document.startswith("\\documentclass"), name
        assert document.rstrip().endswith("\\end{document}"), name
        assert "\\usepackage{amsmath}" in document
        assert document.isascii() and "?" not in document, name
        assert document.count("{") == document.count("}"), name
        assert "\\begin{tabular}" in document or name not in ("mazur", "softmax")


def test_latex_numbers_use_times_ten_not_e():
    document = dict(latex_documents())["mazur"]
    assert re.search(r"\\times 10\^\{-\d+\}", document)
    assert not re.search(r"\d[eE]-?\d", document)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no LaTeX engine (pdflatex) here")
def test_latex_documents_compile(tmp_path):
    fragment = bp.explain.explain(TRACES["mazur"](), "latex", lr=0.5)
    wrapped = "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
    documents = [*latex_documents(), ("fragment", wrapped + fragment + "\\end{document}\n")]
    for name, document in documents:
        source = tmp_path / f"{name.replace(' ', '_')}.tex"
        source.write_text(document, encoding="ascii")
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (name, result.stdout[-2000:])
        assert source.with_suffix(".pdf").stat().st_size > 1000


def test_a_bad_precision_is_refused():
    trace = TRACES["mazur"]()
    for precision in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="precision"):
            trace.explain(precision=precision)


def test_render_writes_lone_steps_with_the_same_rules():
    step = Step("error", None, (), Symbol("E"), value=-0.0)
    assert render([Section("error", steps=(step,))]) == "  E = 0\n"


def test_a_json_network_with_a_skip_connection_is_explained(tmp_path):
    spec = {
        "loss": "squared",
        "layers": [
            {"activation": "tanh", "W": [[0.1, 0.2], [0.3, -0.4]], "b": [0.0, 0.1]},
            {"activation": "tanh", "W": [[0.5, -0.6], [0.7, 0.8]], "b": [0.1, 0.0]},
            {"activation": "sigmoid", "W": [[0.2, -0.3, 0.4, 0.5]], "b": [0.0], "inputs": [1, 2]},
        ],
    }
    path = tmp_path / "skip.json"
    path.write_text(json.dumps(spec))
    result = run("explain", str(path), "--input", "0.5,-1", "--target", "1", "--lr", "0.1")
    assert result.returncode == 0, result.stderr
    assert "u3 = [a1, a2]" in result.stdout and "feeds layers 2 and 3" in result.stdout
    spec["layers"][2]["W"] = [[0.2, -0.3]]
    path.write_text(json.dumps(spec))
    result = run("explain", str(path), "--input", "0.5,-1", "--target", "1")
    assert result.returncode == 2
    assert "layer 3 has 2 inputs but its inputs have 4 units" in result.stderr
