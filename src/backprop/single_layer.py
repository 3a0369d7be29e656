"""The single-layer story that motivates backpropagation.

A single unit computes z = w·x + b and can only draw one straight line (a hyperplane) through the
input space. Two learning rules train it:

* Rosenblatt's perceptron rule, for a threshold unit y = [z ≥ 0]:
  w ← w + η (t − y) x,  b ← b + η (t − y). It converges whenever the classes are linearly
  separable (AND, OR) and never settles when they are not (XOR): no line separates XOR's
  (0,1), (1,0) from (0,0), (1,1).
* Widrow and Hoff's delta rule (LMS), for a linear or sigmoid unit o = f(z):
  δ = (o − t) f'(z),  w ← w − η δ x,  b ← b − η δ — gradient descent on ½(t − o)². It is the
  output-layer case of backpropagation; the hidden layers need the generalised rule.

>>> import backprop as bp
>>> X, y = bp.datasets.and_gate()[:2]
>>> p = bp.Perceptron(seed=0).fit(X, y)
>>> p.predict(X).tolist(), p.converged
([0, 0, 0, 1], True)
>>> X, y = bp.datasets.xor()[:2]
>>> bp.Perceptron(seed=0).fit(X, y, epochs=1000).converged
False
"""

from __future__ import annotations

import numpy as np

from .engine.validation import check_X, positive_number


class _SingleUnit:
    def __init__(self, lr: float, seed: int | None):
        self.lr = positive_number("lr", lr)
        self.seed = seed
        self.w: np.ndarray | None = None
        self.b = 0.0
        self.errors: list[float] = []  # per epoch: mistakes (perceptron) or mean ½(t − o)²

    def _start(self, X, t):
        X = check_X(X, np.shape(X)[1] if np.ndim(X) == 2 else -1, np.float64)
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        if t.shape[0] != X.shape[0]:
            raise ValueError(f"X and t have different numbers of samples: {X.shape[0]}, {len(t)}")
        rng = np.random.default_rng(self.seed)
        self.w = rng.uniform(-0.5, 0.5, X.shape[1])
        self.b = 0.0
        self.errors = []
        return X, t, rng

    def net_input(self, X) -> np.ndarray:
        """z = w·x + b for each row of X."""
        if self.w is None:
            raise ValueError("this unit is not trained yet; call fit first")
        return check_X(X, self.w.shape[0], np.float64) @ self.w + self.b


class Perceptron(_SingleUnit):
    """Rosenblatt's threshold unit y = [w·x + b ≥ 0], trained by the perceptron rule."""

    def __init__(self, lr: float = 1.0, seed: int | None = None):
        super().__init__(lr, seed)
        self.converged = False

    def fit(self, X, t, epochs: int = 100) -> Perceptron:
        """Present the samples one at a time, in a shuffled order each epoch, until an epoch
        makes no mistake (converged) or ``epochs`` run out."""
        X, t, rng = self._start(X, t)
        self.converged = False
        for _ in range(epochs):
            mistakes = 0
            for n in rng.permutation(X.shape[0]):
                y = float(X[n] @ self.w + self.b >= 0)
                if y != t[n]:
                    self.w += self.lr * (t[n] - y) * X[n]  # w ← w + η (t − y) x
                    self.b += self.lr * (t[n] - y)  # b ← b + η (t − y)
                    mistakes += 1
            self.errors.append(mistakes)
            if mistakes == 0:
                self.converged = True
                break
        return self

    def predict(self, X) -> np.ndarray:
        return (self.net_input(X) >= 0).astype(np.int64)


class DeltaRuleUnit(_SingleUnit):
    """Widrow and Hoff's unit o = f(w·x + b), f linear or sigmoid, trained by the delta rule
    (stochastic gradient descent on ½(t − o)²). ``predict`` thresholds o at 0.5."""

    def __init__(self, activation: str = "identity", lr: float = 0.1, seed: int | None = None):
        if activation not in ("identity", "sigmoid"):
            raise ValueError(f"activation must be 'identity' or 'sigmoid', got {activation!r}")
        super().__init__(lr, seed)
        self.activation = activation

    def output(self, X) -> np.ndarray:
        z = self.net_input(X)
        return z if self.activation == "identity" else 1 / (1 + np.exp(-z))

    def fit(self, X, t, epochs: int = 100) -> DeltaRuleUnit:
        X, t, rng = self._start(X, t)
        for _ in range(epochs):
            for n in rng.permutation(X.shape[0]):
                z = X[n] @ self.w + self.b
                o = z if self.activation == "identity" else 1 / (1 + np.exp(-z))
                derivative = 1.0 if self.activation == "identity" else o * (1 - o)
                delta = (o - t[n]) * derivative  # δ = (o − t) f'(z)
                self.w -= self.lr * delta * X[n]  # w ← w − η δ x
                self.b -= self.lr * delta
            self.errors.append(float(0.5 * np.mean((t - self.output(X)) ** 2)))
        return self

    def predict(self, X) -> np.ndarray:
        return (self.output(X) >= 0.5).astype(np.int64)
