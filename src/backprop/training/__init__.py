"""Training: the step, the loop around it, optimisers, schedules, checkpoints and diagnosis.

>>> import backprop as bp
>>> from backprop.training import fit
>>> X, y = bp.datasets.xor()[:2]
>>> history = fit(bp.Network([2, 4, 1], seed=3), X, y, epochs=5, batch_size=None)
>>> len(history)
5
"""

from ..engine.extensions import provide
from .diagnosis import ConvergenceWarning
from .loop import EarlyStopping, History, TrainingDiverged, evaluate, fit

provide("fit", fit)

__all__ = ["ConvergenceWarning", "EarlyStopping", "History", "TrainingDiverged", "evaluate", "fit"]
