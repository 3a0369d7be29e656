"""backprop: backpropagation written out, and made fast.

>>> import backprop as bp
>>> net = bp.Network([2, 4, 1], hidden="tanh", output="sigmoid", loss="log_loss", seed=0)
>>> X, y = bp.datasets.xor()[:2]
>>> history = net.fit(X, y, epochs=500, batch_size=None, optimizer=bp.SGD(lr=1.0))
>>> net.predict_classes(X).tolist()
[0, 1, 1, 0]
"""

from . import activations, datasets, losses, optimizers, schedules
from .activations import Activation, register_activation
from .diagnosis import ConvergenceWarning
from .gradcheck import compare_gradients, gradcheck
from .io import load, load_with_metadata
from .losses import Loss, register_loss
from .network import Input, Layer, Network
from .optimizers import SGD, AdaGrad, Adam, RMSprop
from .single_layer import DeltaRuleUnit, Perceptron
from .trace import Trace
from .training import EarlyStopping, History, TrainingDiverged, evaluate, fit

__all__ = [
    "SGD",
    "Activation",
    "AdaGrad",
    "ConvergenceWarning",
    "DeltaRuleUnit",
    "Adam",
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
    "activations",
    "compare_gradients",
    "datasets",
    "evaluate",
    "fit",
    "gradcheck",
    "load",
    "load_with_metadata",
    "losses",
    "optimizers",
    "register_activation",
    "register_loss",
    "schedules",
]
__version__ = "0.1.0"
