"""scikit-learn estimators on top of ``backprop``: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` hyperparameters (same names and
defaults where the concept is the same) and train a :class:`backprop.Network` with
:func:`backprop.training.fit` (solvers ``"adam"`` and ``"sgd"``) or with
``scipy.optimize.minimize(method="L-BFGS-B")`` on the flat parameter vector (``"lbfgs"``).
This module needs the optional extras scikit-learn and scipy; ``import backprop`` never loads it.

They behave as scikit-learn's do wherever scikit-learn documents a behaviour: the fitted
attributes (``validation_scores_`` and ``best_validation_score_`` under ``early_stopping``,
``best_loss_`` without), the ``verbose`` lines, multi-label targets, ``warm_start`` and
``partial_fit`` with their counting (``n_iter_``, ``t_``) and their errors, the stratified
early-stopping split, non-finite weights (a ``ValueError``), dtypes and feature names.

Worth knowing:

* dtype: float32 X trains a float32 network, float64 X a float64 one, integer X a float64 one
  (``dtype="float32"``/``"float64"`` forces one); lbfgs computes in float64 unless ``dtype``
  says otherwise, as scikit-learn's lbfgs does.
* ``solver="lbfgs"`` holds scipy's own BLAS (where its wheel bundles one beside numpy's) to
  one thread while it runs, so that its idle threads do not slow numpy's matrix products.
* Extras, each off by default: ``dropout``, ``class_weight``, regression ``loss`` (squared,
  absolute, huber, poisson), ``X_val``/``y_val`` as early stopping's validation set,
  ``transform(X, layer=k)`` for hidden activations, per-layer ``activation`` lists.

>>> import numpy as np
>>> from backprop.sklearn import MLPClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 10)
>>> y = np.array(["no", "yes", "yes", "no"] * 10)
>>> clf = MLPClassifier((8,), activation="tanh", solver="lbfgs", random_state=0).fit(X, y)
>>> clf.predict(X[:4]).tolist()
['no', 'yes', 'yes', 'no']
"""

from ._classifier import MLPClassifier
from ._persistence import load
from ._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "load"]
