"""scikit-learn estimators on top of ``backprop``: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` hyperparameters (same names and
defaults where the concept is the same) and train a :class:`backprop.Network` with
:func:`backprop.training.fit` (solvers ``"adam"`` and ``"sgd"``) or with
``scipy.optimize.minimize(method="L-BFGS-B")`` on the flat parameter vector (``"lbfgs"``).
This module needs the optional extras scikit-learn and scipy; ``import backprop`` never loads it.

Differences from scikit-learn worth knowing:

* dtype: float32 X trains a float32 network, float64 X a float64 one, integer X a float64 one
  (``dtype="float32"``/``"float64"`` forces one).
* Initial weights and biases are drawn as scikit-learn draws them (uniform, Glorot's bound;
  ``backprop.Network`` itself uses He for ReLU layers and zero biases), so the two converge
  in about as many epochs.
* ``learning_rate="invscaling"`` decays per epoch: lr = learning_rate_init / epoch**power_t.
  ``"adaptive"`` divides the rate by 5 when the training loss has not improved by ``tol`` for
  ``n_iter_no_change`` epochs, and stops once the rate would fall below 1e-6 (only for sgd).
* ``early_stopping`` monitors the validation *loss* (``validation_loss_curve_``) rather than the
  validation score, and restores the weights of the best epoch. ``X_val``/``y_val`` given to
  ``fit`` replace the ``validation_fraction`` split.
* ``solver="lbfgs"`` holds scipy's own BLAS (where its wheel bundles one beside numpy's) to
  one thread while it runs, so that its idle threads do not slow numpy's matrix products.
* Extras: ``dropout``, ``class_weight``, regression ``loss`` (squared, absolute, huber,
  poisson), ``transform(X, layer=k)`` for hidden activations, per-layer ``activation`` lists.

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
