"""The private scikit-learn APIs the estimators use, imported here and nowhere else.

scikit-learn (1.6 to 1.9) makes no public equivalent of any:

* ``_fit_context`` wraps ``fit`` and ``partial_fit``: it checks the hyperparameters against
  ``_parameter_constraints`` (``partial_fit`` only until the estimator is fitted), honours
  ``config_context(skip_parameter_validation=...)``, skips the validation of nested calls, and
  carries whatever per-fit context scikit-learn adds (callbacks, in 1.9).
* ``Interval``, ``Options`` and ``StrOptions`` are the constraint types
  ``_parameter_constraints`` is written in; a value outside them raises scikit-learn's
  ``InvalidParameterError`` with scikit-learn's message.

* ``check_optimize_result`` reads scipy's L-BFGS-B result as scikit-learn's MLPs read it: the
  iteration count, and the ConvergenceWarning with scikit-learn's message.
* ``MLP_CONSTRAINTS``, scikit-learn's own constraints of its MLPs' hyperparameters, so that
  a value refused there is refused here with the same message, at each scikit-learn version.

If scikit-learn moves them, this is the one module to change.
"""

from sklearn.base import _fit_context
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.optimize import _check_optimize_result as check_optimize_result

MLP_CONSTRAINTS: dict = dict(BaseMultilayerPerceptron._parameter_constraints)

__all__ = ["MLP_CONSTRAINTS", "Interval", "StrOptions", "_fit_context", "check_optimize_result"]
