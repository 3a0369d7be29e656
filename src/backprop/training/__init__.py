"""Training: the step, the loop around it, optimisers, schedules, checkpoints and diagnosis.

``step`` (one update: forward, backward, the gradient hook, ``transforms``, the optimiser),
``loop`` (``fit``: batches, epochs, validation, early stopping, callbacks, checkpoints),
``readout`` (every value the loop reads back from the device), ``optimizers``, ``schedules``,
``checkpoint`` and ``state`` (the training state and its saving), ``history``, ``diagnosis``.

>>> import backprop as bp
>>> from backprop.training import fit
>>> X, y = bp.datasets.xor()[:2]
>>> history = fit(bp.Network([2, 4, 1], seed=3), X, y, epochs=5, batch_size=None)
>>> len(history)
5
"""

from ..engine.extensions import provide
from . import recipes
from .diagnosis import ConvergenceWarning
from .evaluation import evaluate
from .history import History
from .loop import fit
from .readout import TrainingDiverged
from .step import TrainingStep
from .stopping import EarlyStopping
from .transforms import ClipByGlobalNorm, GradientTransform, WeightDecay

provide("fit", fit)

__all__ = [
    "ClipByGlobalNorm",
    "ConvergenceWarning",
    "EarlyStopping",
    "GradientTransform",
    "History",
    "TrainingDiverged",
    "TrainingStep",
    "WeightDecay",
    "evaluate",
    "fit",
    "recipes",
]
