"""The private scikit-learn APIs the estimators use, imported here and nowhere else.

scikit-learn (1.6 to 1.9) makes no public equivalent of either:

* ``_fit_context`` wraps ``fit`` and ``partial_fit``: it checks the hyperparameters against
  ``_parameter_constraints`` (``partial_fit`` only until the estimator is fitted), honours
  ``config_context(skip_parameter_validation=...)``, skips the validation of nested calls, and
  carries whatever per-fit context scikit-learn adds (callbacks, in 1.9).
* ``Interval``, ``Options`` and ``StrOptions`` are the constraint types
  ``_parameter_constraints`` is written in; a value outside them raises scikit-learn's
  ``InvalidParameterError`` with scikit-learn's message.

If scikit-learn moves them, this is the one module to change.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions

__all__ = ["Interval", "Options", "StrOptions", "_fit_context"]
