"""The network config a model file stores: a network as JSON data, and back.

``network_config`` writes a network's architecture as plain data (sizes, activation and loss
*names* with their parameters, connections, dropout, init, which parameters are held fixed,
dtype, seed). ``ConfigReader`` checks
such data, read from a file, key by key and rebuilds the ``Network`` by looking the names up in
the process's own tables; its errors name the file. ``encode_floats`` / ``decode_floats`` carry
the non-finite floats JSON lacks through metadata.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..engine.activations import ACTIVATIONS, Activation
from ..engine.losses import LOSSES, Loss
from ..engine.network import Layer, Network

__all__ = [
    "DTYPE_CODES",
    "ConfigReader",
    "ModelFileError",
    "decode_floats",
    "encode_floats",
    "network_config",
]

DTYPE_CODES = {"float32": "F32", "float64": "F64"}
"""The safetensors dtype code of the parameters for each network dtype."""
_NETWORK_KEYS = {"n_inputs", "dtype", "seed", "loss", "layers"}
_LAYER_KEYS = {"size", "activation", "inputs", "combine", "dropout", "init"}
_OPTIONAL_LAYER_KEYS = {"train_weights", "train_bias"}
"""Written only when False (a fixed W or b), so files of networks that train everything read in
versions that predate them; absent means True."""
_FUNCTION_KEYS = {"name", "params"}


# -- writing -------------------------------------------------------------------------------


def _number(value: Any, what: str) -> int | float:
    """A JSON-safe finite number (int or float) from ``value``, else TypeError/ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    number = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number!r}")
    return number


def _function_config(function: Activation | Loss, table: dict, kind: str) -> dict:
    """{"name", "params"} for an activation or loss, checking that a load can rebuild it."""
    name = function.name
    params = {
        str(key): _number(value, f"{kind} {name!r} parameter {key!r}")
        for key, value in sorted(function.params.items())
    }
    registered = table.get(name)
    rebuildable = registered is function or (
        registered is not None
        and registered.factory is not None
        and registered.factory is function.factory
    )
    if not rebuildable:
        raise ValueError(
            f"{kind} {name!r} cannot be saved: it is not the one registered under that name; "
            f"register it (register_{kind}) so that a file can refer to it by name"
        )
    return {"name": name, "params": params}


def _storable_seed(seed: Any) -> int | None:
    if isinstance(seed, np.integer):
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        return None  # a Generator or SeedSequence seed cannot be stored; it only seeds the future
    return seed


def network_config(net: Network) -> dict:
    """The architecture of ``net`` as plain JSON-serialisable data (what ``save`` stores)."""
    layers = [_layer_config(layer) for layer in net.layers[1:]]
    return {
        "n_inputs": int(net.n_inputs),
        "dtype": net.dtype.name,
        "seed": _storable_seed(net.seed),
        "loss": _function_config(net.loss, LOSSES, "loss"),
        "layers": layers,
    }


def _layer_config(layer: Layer) -> dict:
    config = {
        "size": int(layer.size),
        "activation": _function_config(layer.activation, ACTIVATIONS, "activation"),
        "inputs": None if layer.inputs is None else [int(i) for i in layer.inputs],
        "combine": layer.combine,
        "dropout": float(layer.dropout),
        "init": layer.init,
    }
    for key, which in (("train_weights", "W"), ("train_bias", "b")):
        if not layer.trains(which):
            config[key] = False
    return config


def encode_floats(value: Any) -> Any:
    """``value`` ready for JSON metadata: numpy scalars as Python numbers, tuples as lists, and
    the non-finite floats JSON lacks as ``{"float": "inf"}`` (``decode_floats`` undoes it)."""
    if isinstance(value, dict):
        return {k: encode_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_floats(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": str(value)}
    return value


def decode_floats(value: Any) -> Any:
    """The inverse of ``encode_floats``."""
    if isinstance(value, dict):
        if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
            return float(value["float"])
        return {k: decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_floats(v) for v in value]
    return value


# -- reading -------------------------------------------------------------------------------


class ModelFileError(ValueError):
    """A ValueError that already names the file and the problem."""


class ConfigReader:
    """Checks what a model file holds and rebuilds its network; its ValueErrors name the file."""

    def __init__(self, path: str):
        self.path = path

    def error(self, problem: str) -> ValueError:
        return ModelFileError(f"cannot load {self.path!r}: {problem}")

    def json(self, text: str, what: str) -> Any:
        def refuse(constant):
            raise ValueError(f"{constant} is not allowed")

        try:
            return json.loads(text, parse_constant=refuse)
        except (ValueError, RecursionError) as error:
            raise self.error(f"{what} is not valid JSON ({error})") from None

    # -- type checks on the config ---------------------------------------------------------
    def expect_dict(
        self, value: Any, keys: set[str] | None, what: str, optional: set[str] = frozenset()
    ) -> dict:
        if not isinstance(value, dict):
            raise self.error(f"{what} must be a JSON object, got {type(value).__name__}")
        if keys is not None and not keys <= set(value) <= keys | optional:
            missing, extra = sorted(keys - set(value)), sorted(set(value) - keys - optional)
            detail = "; ".join(
                part
                for part in (
                    f"missing {missing}" if missing else "",
                    f"unexpected {extra}" if extra else "",
                )
                if part
            )
            raise self.error(f"{what} has the wrong keys ({detail})")
        return value

    def expect_int(self, value: Any, what: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{what} must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"{what} must be >= {minimum}, got {value}")
        return value

    def expect_number(self, value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{what} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.error(f"{what} must be finite, got {value!r}")
        return value

    def expect_str(self, value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise self.error(f"{what} must be a string, got {value!r}")
        return value

    def function(self, spec: Any, table: dict, kind: str, what: str):
        """Rebuild an activation or loss from {"name", "params"}: table look-ups only."""
        spec = self.expect_dict(spec, _FUNCTION_KEYS, what)
        name = self.expect_str(spec["name"], f"{what} name")
        params = self.expect_dict(spec["params"], None, f"{what} params")
        for key, value in params.items():
            self.expect_number(value, f"{what} parameter {key!r}")
        if name not in table:
            known = ", ".join(sorted(table))
            raise self.error(
                f"{what}: unknown {kind} {name!r} (known: {known}); a custom {kind} must be "
                f"registered again (register_{kind}) before loading a file that uses it"
            )
        registered = table[name]
        if registered.factory is not None:
            try:
                return registered.rebuild(params)
            except (TypeError, ValueError) as error:
                raise self.error(f"{what}: {error}") from None
        if dict(registered.params) != params:
            raise self.error(
                f"{what}: {kind} {name!r} with parameters {params} does not match the "
                f"registered one ({dict(registered.params)})"
            )
        return registered

    def network_config(self, text: str) -> dict:
        """The stored config, its keys and types checked (activations and losses by ``build``)."""
        config = self.expect_dict(self.json(text, "the network config"), _NETWORK_KEYS, "network")
        self.expect_int(config["n_inputs"], "network n_inputs", 1)
        dtype = self.expect_str(config["dtype"], "network dtype")
        if dtype not in DTYPE_CODES:
            raise self.error(f"network dtype must be one of {sorted(DTYPE_CODES)}, got {dtype!r}")
        if config["seed"] is not None:
            self.expect_int(config["seed"], "network seed", 0)
        layers = config["layers"]
        if not isinstance(layers, list) or not layers:
            raise self.error("network layers must be a non-empty list")
        for l, layer in enumerate(layers, start=1):
            self._check_layer(layer, l)
        return config

    def _check_layer(self, layer: Any, l: int) -> None:
        what = f"layer {l}"
        self.expect_dict(layer, _LAYER_KEYS, what, _OPTIONAL_LAYER_KEYS)
        for key in _OPTIONAL_LAYER_KEYS & set(layer):
            if not isinstance(layer[key], bool):
                raise self.error(f"{what} {key} must be true or false, got {layer[key]!r}")
        self.expect_int(layer["size"], f"{what} size", 1)
        if layer["inputs"] is not None:
            if not isinstance(layer["inputs"], list) or not layer["inputs"]:
                raise self.error(f"{what} inputs must be null or a non-empty list")
            for s in layer["inputs"]:
                self.expect_int(s, f"{what} input", 0)
                if s >= l:
                    raise self.error(f"{what} input {s} is not an earlier layer")
        self.expect_str(layer["combine"], f"{what} combine")
        self.expect_number(layer["dropout"], f"{what} dropout")
        self.expect_str(layer["init"], f"{what} init")

    def n_params(self, config: dict) -> int:
        """The parameter count the config implies, computed before anything is allocated."""
        sizes = [config["n_inputs"]] + [layer["size"] for layer in config["layers"]]
        total = 0
        for l, layer in enumerate(config["layers"], start=1):
            sources = layer["inputs"] if layer["inputs"] is not None else [l - 1]
            widths = [sizes[s] for s in sources]
            n_in = widths[0] if layer["combine"] == "sum" else sum(widths)
            total += layer["size"] * n_in + layer["size"]
        return total

    def build(self, config: dict) -> Network:
        """The network a checked config describes, activations and losses looked up by name."""
        loss = self.function(config["loss"], LOSSES, "loss", "loss")
        layers = [self._layer(spec, l) for l, spec in enumerate(config["layers"], start=1)]
        try:
            return Network(
                [config["n_inputs"], *layers],
                loss=loss,
                dtype=config["dtype"],
                seed=config["seed"],
            )
        except (TypeError, ValueError) as error:
            raise self.error(f"the stored architecture is invalid: {error}") from None

    def _layer(self, spec: dict, l: int) -> Layer:
        activation = self.function(
            spec["activation"], ACTIVATIONS, "activation", f"layer {l} activation"
        )
        try:
            return Layer(
                spec["size"],
                activation,
                inputs=spec["inputs"],
                combine=spec["combine"],
                dropout=spec["dropout"],
                init=spec["init"],
                train_weights=spec.get("train_weights", True),
                train_bias=spec.get("train_bias", True),
            )
        except (TypeError, ValueError) as error:
            raise self.error(f"layer {l}: {error}") from None
