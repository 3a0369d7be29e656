"""The examples in the README and the docstrings run and say what they claim."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import backprop

README = Path(__file__).resolve().parents[1] / "README.md"
MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(backprop.__path__, "backprop.")
    if not name.endswith("__main__")
)


def readme_examples():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_readme_example_runs(index, capsys):
    exec(compile(readme_examples()[index], f"README example {index}", "exec"), {})
    capsys.readouterr()


def test_readme_worked_example_prints_the_published_numbers(capsys):
    mazur = next(code for code in readme_examples() if "0.05, 0.10" in code)
    exec(mazur, {})
    out = capsys.readouterr().out
    for number in ("0.75136507", "0.77292847", "0.2983711", "0.35891648", "0.14978072"):
        assert number in out


def test_readme_names_the_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = 'python -m pip install ".[test]" && python -m pytest'
    assert command in text and command in ci


@pytest.mark.parametrize("name", ["backprop", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
