"""Runs that learned what they should get no finding from history.diagnose() and no warning:
the demos, the README's examples, XOR and the scikit-learn-style iris example."""

import re
import warnings
from pathlib import Path

import pytest

import backprop as bp
from backprop.cli import main
from backprop.cli.demo import demo_moons, demo_sin
from backprop.training.history import History

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def no_convergence_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", bp.ConvergenceWarning)
        yield


@pytest.fixture
def histories(monkeypatch):
    """Every History made while the test runs, whoever trains."""
    made = []
    make = History.__init__

    def recording(self):
        make(self)
        made.append(self)

    monkeypatch.setattr(History, "__init__", recording)
    return made


def findings(history):
    return [str(finding) for finding in history.diagnose()]


def test_demo_moons_at_99_percent(no_convergence_warning, histories):
    text = demo_moons(seed=0)
    assert "validation accuracy: 99.0%" in text
    (history,) = histories
    assert len(history) == 200 and findings(history) == []


def test_demo_sin(no_convergence_warning, histories):
    demo_sin(seed=0)
    (history,) = histories
    assert findings(history) == []


def test_xor_two_four_one_sigmoid_batch_descent(no_convergence_warning):
    data = bp.datasets.xor()
    net = bp.Network([2, 4, 1], hidden="sigmoid", output="sigmoid", loss="squared", seed=0)
    history = net.fit(data.X, data.y, epochs=5000, batch_size=None, optimizer=bp.SGD(lr=2.0))
    assert (net.predict_classes(data.X).ravel() == data.y).all()
    assert findings(history) == []


def test_python_m_backprop_demo(no_convergence_warning, histories, capsys):
    assert main(["demo", "--plots", ""]) == 0  # the README's first command
    assert "correct: 4 of 4" in capsys.readouterr().out
    (history,) = histories
    assert len(history) == 5000 and findings(history) == []


README_EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
HEALTHY_EXAMPLES = [code for code in README_EXAMPLES if ".diagnose()" not in code]


@pytest.mark.parametrize("index", range(len(HEALTHY_EXAMPLES)))
def test_readme_examples(index, no_convergence_warning, histories, capsys):
    code = HEALTHY_EXAMPLES[index]
    if "sklearn" in code:
        pytest.importorskip("sklearn")
    exec(compile(code, f"README example {index}", "exec"), {})
    capsys.readouterr()
    for history in histories:  # the quick start, the worked example, the iris folds
        assert findings(history) == []


def test_the_readmes_planted_problem_gets_the_findings_it_names(capsys):
    (code,) = [code for code in README_EXAMPLES if ".diagnose()" in code]
    exec(compile(code, "README diagnose example", "exec"), {})
    printed = [line.split(" - ")[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == ["chance_level", "high_initial_loss", "dead_units"]


def test_an_early_stopped_run_is_not_told_to_train_longer():
    X, y = bp.datasets.two_moons(n_samples=400, noise=0.15, seed=3)[:2]
    net = bp.Network([2, 16, 16, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=3)
    history = net.fit(
        X,
        y,
        epochs=100,
        batch_size=32,
        optimizer="adam",
        lr=0.01,
        validation_split=0.25,
        early_stopping=True,
    )
    assert history.stopped_early
    assert history.loss[-2] > history.loss[-1]  # still falling when validation stopped it
    assert findings(history) == []
