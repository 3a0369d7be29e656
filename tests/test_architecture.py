"""The package's layers: imports point one way, never deferred to reach upwards, and modules
stay short enough to read.

    engine (with _version) <- io <- training <- faces (explain, plot, page, sklearn, onnx,
    distributed, gpu, cli, datasets, single_layer) <- the package itself
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "backprop"
LAYERS = {
    "engine": 0,
    "_version": 0,
    "io": 1,
    "training": 2,
    "explain": 3,
    "plot": 3,
    "page": 3,
    "sklearn": 3,
    "onnx": 3,
    "cli": 3,
    "datasets": 3,
    "distributed": 3,
    "gpu": 3,
    "single_layer": 3,
    "__init__": 4,
    "__main__": 4,
}
# pictures need matplotlib: imported when one is drawn; ONNX export needs onnx (and skl2onnx)
OPTIONAL_FACES = {("cli", "plot"), ("cli", "onnx")}
MAX_LINES = 400


def modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def dotted(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts


def layer_of(parts: list[str]) -> tuple[str, int]:
    top = parts[0] if parts else "__init__"
    return top, LAYERS[top]


def imported(path: Path):
    """(backprop sub-path, deferred) for every import of the package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = dotted(path) if path.name == "__init__.py" else dotted(path)[:-1]
    deferred_nodes = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                targets.append(base + node.module.split("."))
            else:
                targets.extend(base + [alias.name] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backprop"):
            targets.append(node.module.split(".")[1:])
        elif isinstance(node, ast.Import):
            targets.extend(
                alias.name.split(".")[1:]
                for alias in node.names
                if alias.name.split(".")[0] == "backprop"
            )
        for target in targets:
            yield target, id(node) in deferred_nodes


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    source, level = layer_of(dotted(path))
    for target, _ in imported(path):
        name, target_level = layer_of(target)
        if name == source:
            continue
        assert target_level <= level, f"{source} (layer {level}) imports {'.'.join(target)}"
        if target_level == level:
            assert level >= 3, f"{source} and {name} share a layer and may not import each other"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_of_the_package_is_deferred_into_a_function(path):
    source, _ = layer_of(dotted(path))
    for target, deferred in imported(path):
        if deferred:
            assert (source, layer_of(target)[0]) in OPTIONAL_FACES, (
                f"{path.name} imports {'.'.join(target)} inside a function"
            )


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_under_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_the_engine_names_no_layer_above_it():
    for path in (PACKAGE / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in ("backprop.training", "backprop.io", "backprop.sklearn", "backprop.cli"):
            code = [line for line in text.splitlines() if word in line and "import" in line]
            assert not code, f"{path.name}: {code}"
