"""backprop: backpropagation written out, and made fast.

>>> import backprop as bp
>>> net = bp.Network([2, 4, 1], hidden="tanh", output="sigmoid", loss="log_loss", seed=0)
>>> X, y = bp.datasets.xor()[:2]
>>> history = net.fit(X, y, epochs=500, batch_size=None, optimizer=bp.SGD(lr=1.0))
>>> net.predict_classes(X).tolist()
[0, 1, 1, 0]

The package is built in layers whose imports point one way: ``engine`` (backend, activations,
losses, network, delta rule, trace, gradcheck) <- ``io`` (model files) <- ``training`` (step,
loop, optimisers, schedules, checkpoints) <- the faces (``explain``, ``page``, ``plot``,
``sklearn``, ``cli``). The modules users import by name keep their short paths:
``backprop.activations``, ``backprop.losses``, ``backprop.optimizers``, ``backprop.schedules``.
"""

import sys

from . import datasets, distributed, explain, io, page, training  # noqa: F401 - registers
from ._version import __version__
from .engine import activations, losses
from .engine.activations import Activation, register_activation
from .engine.backend import DeviceUnavailable
from .engine.ensemble import ensemble
from .engine.gradcheck import compare_gradients, gradcheck
from .engine.losses import Loss, register_loss
from .engine.network import Input, Layer, Network
from .engine.trace import Trace
from .io import load, load_with_metadata
from .single_layer import DeltaRuleUnit, Perceptron
from .training import (
    ConvergenceWarning,
    EarlyStopping,
    History,
    TrainingDiverged,
    evaluate,
    fit,
    optimizers,
    recipes,
    schedules,
)
from .training.optimizers import SGD, AdaGrad, Adam, RMSprop

for _name, _module in {
    "activations": activations,
    "losses": losses,
    "optimizers": optimizers,
    "recipes": recipes,
    "schedules": schedules,
}.items():
    sys.modules[f"{__name__}.{_name}"] = _module  # the short import paths of the public modules
del _name, _module

__all__ = [
    "SGD",
    "Activation",
    "AdaGrad",
    "Adam",
    "ConvergenceWarning",
    "DeltaRuleUnit",
    "DeviceUnavailable",
    "EarlyStopping",
    "History",
    "Input",
    "Layer",
    "Loss",
    "Network",
    "Perceptron",
    "RMSprop",
    "Trace",
    "TrainingDiverged",
    "__version__",
    "activations",
    "compare_gradients",
    "datasets",
    "ensemble",
    "evaluate",
    "explain",
    "fit",
    "gradcheck",
    "io",
    "load",
    "load_with_metadata",
    "losses",
    "optimizers",
    "page",
    "recipes",
    "register_activation",
    "register_loss",
    "schedules",
    "training",
]
