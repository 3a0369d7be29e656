"""Tests for backprop.optimizers: hand-computed updates, in-place behaviour, torch parity."""

from __future__ import annotations

import copy
import doctest
import pickle
import tracemalloc

import numpy as np
import pytest
from backprop.optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    AdaGradState,
    Adam,
    AdamState,
    RMSprop,
    RMSpropState,
    SGDState,
    get_optimizer,
)

from backprop import optimizers
from backprop.engine.backend import numpy_backend as backend

pytestmark = pytest.mark.usefixtures("kernels")  # every test: numpy kernels, then compiled

N_PARAMS = 23
N_STEPS = 5


def _gradients(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    # Different scales per step so the moment estimates actually change shape over time.
    return [rng.normal(size=N_PARAMS) * scale for scale in (1.0, 0.1, 3.0, 0.5, 2.0)]


def _start(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=N_PARAMS)


def _run(opt, params: np.ndarray, gradients: list[np.ndarray]) -> list[np.ndarray]:
    state = opt.init(params)
    history = []
    for g in gradients:
        state = opt.update(params, g, state)
        history.append(params.copy())
    return history


def _assert_history(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected) == N_STEPS
    for step, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=0, err_msg=f"step {step + 1}")


# --- the update equations, written out by hand in float64 --------------------------------


def test_sgd_plain_matches_hand_computation():
    lr = 0.05
    theta = _start()
    grads = _gradients()
    actual = _run(SGD(lr=lr), theta.copy(), grads)
    expected = []
    for g in grads:
        theta = theta - lr * g
        expected.append(theta)
    _assert_history(actual, expected)


def test_sgd_momentum_matches_hand_computation():
    lr, mu = 0.05, 0.9
    theta = _start()
    grads = _gradients()
    actual = _run(SGD(lr=lr, momentum=mu), theta.copy(), grads)
    expected = []
    v = np.zeros(N_PARAMS)
    for g in grads:
        v = mu * v + g
        theta = theta - lr * v
        expected.append(theta)
    _assert_history(actual, expected)
    # First step of momentum SGD is a plain SGD step (v starts at zero).
    np.testing.assert_allclose(actual[0], _start() - lr * grads[0], rtol=1e-15)


def test_sgd_nesterov_matches_hand_computation():
    lr, mu = 0.05, 0.8
    theta = _start()
    grads = _gradients()
    actual = _run(SGD(lr=lr, momentum=mu, nesterov=True), theta.copy(), grads)
    expected = []
    v = np.zeros(N_PARAMS)
    for g in grads:
        v = mu * v + g
        theta = theta - lr * (g + mu * v)
        expected.append(theta)
    _assert_history(actual, expected)


def test_adam_matches_hand_computation():
    lr, beta_1, beta_2, eps = 0.01, 0.8, 0.95, 1e-6
    theta = _start()
    grads = _gradients()
    actual = _run(Adam(lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps), theta.copy(), grads)
    expected = []
    m = np.zeros(N_PARAMS)
    v = np.zeros(N_PARAMS)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(theta)
    _assert_history(actual, expected)


def test_adam_state_tracks_step_and_moments():
    opt = Adam(beta_1=0.5, beta_2=0.75)
    params = _start()
    state = opt.init(params)
    assert state == AdamState(step=0, m=state.m, v=state.v)
    g = _gradients()[0]
    state = opt.update(params, g, state)
    state = opt.update(params, 2 * g, state)
    assert state.step == 2
    np.testing.assert_allclose(state.m, 0.5 * (0.5 * g) + 0.5 * (2 * g), rtol=1e-15)
    np.testing.assert_allclose(state.v, 0.75 * (0.25 * g**2) + 0.25 * (4 * g**2), rtol=1e-15)


def test_rmsprop_matches_hand_computation():
    lr, rho, eps = 0.01, 0.9, 1e-7
    theta = _start()
    grads = _gradients()
    actual = _run(RMSprop(lr=lr, rho=rho, epsilon=eps), theta.copy(), grads)
    expected = []
    v = np.zeros(N_PARAMS)
    for g in grads:
        v = rho * v + (1 - rho) * g**2
        theta = theta - lr * g / (np.sqrt(v) + eps)
        expected.append(theta)
    _assert_history(actual, expected)


@pytest.mark.parametrize("initial_accumulator", [0.0, 0.1])
def test_adagrad_matches_hand_computation(initial_accumulator):
    lr, eps = 0.1, 1e-10
    theta = _start()
    grads = _gradients()
    opt = AdaGrad(lr=lr, epsilon=eps, initial_accumulator=initial_accumulator)
    actual = _run(opt, theta.copy(), grads)
    expected = []
    G = np.full(N_PARAMS, initial_accumulator)
    for g in grads:
        G = G + g**2
        theta = theta - lr * g / (np.sqrt(G) + eps)
        expected.append(theta)
    _assert_history(actual, expected)


@pytest.mark.parametrize(
    "opt",
    [SGD(lr=0.3), SGD(lr=0.3, momentum=0.5, nesterov=True), Adam(), RMSprop(), AdaGrad()],
    ids=repr,
)
def test_lr_argument_overrides_per_step(opt):
    grads = _gradients()
    own_lr, per_step_lr, built_with_lr = _start(), _start(), _start()
    rebuilt = get_optimizer(opt, lr=0.02)
    state_own, state_step = opt.init(own_lr), opt.init(per_step_lr)
    state_built = rebuilt.init(built_with_lr)
    for g in grads:
        state_own = opt.update(own_lr, g, state_own)
        state_step = opt.update(per_step_lr, g, state_step, lr=0.02)
        state_built = rebuilt.update(built_with_lr, g, state_built)
    # lr=0.02 passed at each step acts exactly like an optimiser built with lr=0.02 ...
    np.testing.assert_array_equal(per_step_lr, built_with_lr)
    # ... and not like the optimiser's own lr.
    assert not np.allclose(per_step_lr, own_lr)


def test_zero_lr_leaves_params_but_updates_state():
    opt = Adam()
    params = _start()
    before = params.copy()
    state = opt.update(params, _gradients()[0], opt.init(params), lr=0.0)
    np.testing.assert_array_equal(params, before)
    assert state.step == 1
    assert np.any(state.m != 0)


def test_negative_step_lr_rejected():
    opt = SGD()
    params = _start()
    with pytest.raises(ValueError, match="lr"):
        opt.update(params, params.copy(), opt.init(params), lr=-0.1)


# --- in place, dtype, no allocation --------------------------------------------------------


def _all_optimizers():
    return [
        SGD(),
        SGD(momentum=0.9),
        SGD(momentum=0.9, nesterov=True),
        Adam(),
        RMSprop(),
        AdaGrad(initial_accumulator=0.1),
    ]


def _state_arrays(state) -> list[np.ndarray]:
    return [value for value in state if isinstance(value, np.ndarray)]


@pytest.mark.parametrize("opt", _all_optimizers(), ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_is_in_place_and_keeps_dtype(opt, dtype):
    rng = np.random.default_rng(3)
    params = rng.normal(size=50).astype(dtype)
    address = params.__array_interface__["data"][0]
    state = opt.init(params)
    arrays = _state_arrays(state)
    assert all(a.dtype == dtype and a.shape == params.shape for a in arrays)
    before = params.copy()
    new_state = opt.update(params, rng.normal(size=50).astype(dtype), state)
    assert type(new_state) is type(state)
    assert params.dtype == dtype
    assert params.__array_interface__["data"][0] == address
    assert not np.array_equal(params, before)
    new_arrays = _state_arrays(new_state)
    assert len(new_arrays) == len(arrays)
    assert all(a is b for a, b in zip(new_arrays, arrays, strict=True))
    assert all(a.dtype == dtype for a in new_arrays)


@pytest.mark.parametrize("opt", _all_optimizers(), ids=repr)
def test_float32_matches_float64_to_float32_precision(opt):
    grads = _gradients()
    p64 = _start()
    p32 = p64.astype(np.float32)
    opt32 = copy.deepcopy(opt)
    s64, s32 = opt.init(p64), opt32.init(p32)
    for g in grads:
        s64 = opt.update(p64, g, s64)
        s32 = opt32.update(p32, g.astype(np.float32), s32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opt", _all_optimizers(), ids=repr)
def test_hundred_updates_allocate_nothing(opt, kernels):
    opt = copy.deepcopy(opt)  # no scratch array left over from another test
    rng = np.random.default_rng(4)
    size = 100_000  # 800 kB per float64 array: any per-step temporary would show up below
    params = rng.normal(size=size)
    grads = rng.normal(size=size) * 1e-3
    params_id = id(params)
    state = opt.init(params)
    state_ids = [id(a) for a in _state_arrays(state)]
    state = opt.update(params, grads, state)  # first call allocates the scratch buffer
    scratch = opt._scratch.array
    tracemalloc.start()
    try:
        for _ in range(100):
            state = opt.update(params, grads, state)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000
    assert id(params) == params_id
    assert [id(a) for a in _state_arrays(state)] == state_ids
    assert opt._scratch.array is scratch
    if kernels == "numba":
        assert scratch is None  # the compiled pass needs no scratch array
    if isinstance(opt, Adam):
        assert state.step == 101


def test_scratch_follows_a_change_of_shape_or_dtype(monkeypatch):
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    opt = RMSprop()
    for params in (np.ones(4), np.ones(6), np.ones(6, dtype=np.float32)):
        state = opt.init(params)
        opt.update(params, np.full_like(params, 0.5), state)
        assert opt._scratch.array.dtype == params.dtype
        np.testing.assert_allclose(params, 1 - 0.01 * 0.5 / (np.sqrt(0.01 * 0.25) + 1e-8))


@pytest.mark.parametrize("opt", _all_optimizers(), ids=repr)
def test_blocks_give_bit_for_bit_the_result_of_one_pass(opt, monkeypatch):
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    block = backend.BLOCK
    size = 3 * block + 17  # three full blocks and a ragged one
    rng = np.random.default_rng(8)
    start = rng.normal(size=size).astype(np.float32)
    grads = [(rng.normal(size=size) * scale).astype(np.float32) for scale in (1.0, 0.01, 5.0)]

    def train(block):
        monkeypatch.setattr(backend, "BLOCK", block)
        params, fresh = start.copy(), copy.deepcopy(opt)
        state = fresh.init(params)
        for g in grads:
            state = fresh.update(params, g, state)
        return params, state, fresh._scratch.array

    blocked, blocked_state, scratch = train(block)
    whole, whole_state, _ = train(size)
    np.testing.assert_array_equal(blocked, whole)
    for got, want in zip(_state_arrays(blocked_state), _state_arrays(whole_state), strict=True):
        np.testing.assert_array_equal(got, want)
    assert scratch.shape == (block,)  # one block of scratch, not a copy of the parameters


def test_grads_must_match_params():
    opt = Adam()
    params = np.zeros(3, dtype=np.float32)
    state = opt.init(params)
    with pytest.raises(ValueError, match="shape and dtype"):
        opt.update(params, np.zeros(4, dtype=np.float32), state)
    with pytest.raises(ValueError, match="shape and dtype"):
        opt.update(params, np.zeros(3), state)
    with pytest.raises(TypeError, match="floating"):
        opt.init(np.zeros(3, dtype=np.int64))


def test_sgd_without_momentum_keeps_no_state():
    opt = SGD()
    state = opt.init(np.zeros(3))
    assert state == SGDState(velocity=None)
    with pytest.raises(ValueError, match="velocity"):
        SGD(momentum=0.5).update(np.zeros(3), np.ones(3), state)


def test_checkpointed_state_resumes_bit_for_bit():
    grads = _gradients()
    opt = Adam(lr=0.01)
    straight = _start()
    state = opt.init(straight)
    for g in grads:
        state = opt.update(straight, g, state)

    resumed = _start()
    first = Adam(lr=0.01)
    state = first.init(resumed)
    for g in grads[:2]:
        state = first.update(resumed, g, state)
    saved = pickle.dumps((resumed, state, first))
    resumed, state, second = pickle.loads(saved)
    assert second._scratch.array is None  # the scratch cache is not part of a pickle
    for g in grads[2:]:
        state = second.update(resumed, g, state)
    np.testing.assert_array_equal(resumed, straight)


def test_states_are_namedtuples():
    params = np.zeros(2)
    assert isinstance(SGD(momentum=0.1).init(params), SGDState)
    assert isinstance(Adam().init(params), AdamState)
    assert isinstance(RMSprop().init(params), RMSpropState)
    assert AdaGradState._fields == ("G",)
    np.testing.assert_array_equal(AdaGrad(initial_accumulator=0.5).init(params).G, [0.5, 0.5])


# --- comparison with torch.optim -----------------------------------------------------------


TORCH_CASES = [
    pytest.param(SGD(lr=0.1), "SGD", {"lr": 0.1}, id="sgd"),
    pytest.param(SGD(lr=0.1, momentum=0.9), "SGD", {"lr": 0.1, "momentum": 0.9}, id="momentum"),
    pytest.param(
        SGD(lr=0.1, momentum=0.9, nesterov=True),
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        id="nesterov",
    ),
    pytest.param(
        Adam(lr=0.01, beta_1=0.85, beta_2=0.99, epsilon=1e-7),
        "Adam",
        {"lr": 0.01, "betas": (0.85, 0.99), "eps": 1e-7},
        id="adam",
    ),
    pytest.param(
        RMSprop(lr=0.01, rho=0.9, epsilon=1e-7),
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-7},
        id="rmsprop",
    ),
    pytest.param(
        AdaGrad(lr=0.1, epsilon=1e-10, initial_accumulator=0.1),
        "Adagrad",
        {"lr": 0.1, "eps": 1e-10, "initial_accumulator_value": 0.1},
        id="adagrad",
    ),
]


@pytest.mark.parametrize(("opt", "torch_name", "torch_kwargs"), TORCH_CASES)
def test_matches_torch(opt, torch_name, torch_kwargs):
    torch = pytest.importorskip("torch")
    params = _start()
    weight = torch.nn.Parameter(torch.tensor(params.copy(), dtype=torch.float64))
    torch_opt = getattr(torch.optim, torch_name)([weight], **torch_kwargs)
    state = opt.init(params)
    for g in _gradients():
        weight.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()
        state = opt.update(params, g, state)
        np.testing.assert_allclose(params, weight.detach().numpy(), rtol=0, atol=1e-12)


# --- get_optimizer, hyperparameters, repr, validation --------------------------------------


def test_get_optimizer_by_name_is_case_insensitive():
    assert set(OPTIMIZERS) == {"sgd", "adam", "rmsprop", "adagrad"}
    for name, cls in OPTIMIZERS.items():
        for spelling in (name, name.upper(), name.capitalize()):
            opt = get_optimizer(spelling)
            assert type(opt) is cls
            assert opt.name == name
            assert opt.hyperparameters() == cls().hyperparameters()


def test_get_optimizer_lr_override():
    assert get_optimizer("adam", lr=0.05).lr == 0.05
    mine = SGD(lr=0.1, momentum=0.9, nesterov=True)
    assert get_optimizer(mine) is mine
    other = get_optimizer(mine, lr=0.01)
    assert other is not mine
    assert type(other) is SGD
    assert other.hyperparameters() == {"lr": 0.01, "momentum": 0.9, "nesterov": True}
    assert mine.lr == 0.1
    with pytest.raises(ValueError, match="lr"):
        get_optimizer("sgd", lr=-1.0)


def test_get_optimizer_errors():
    with pytest.raises(ValueError, match="adagrad, adam, rmsprop, sgd"):
        get_optimizer("lbfgs")
    with pytest.raises(TypeError):
        get_optimizer(3)
    with pytest.raises(TypeError):
        get_optimizer(Adam)


def test_hyperparameters_rebuild_an_equal_optimiser():
    for opt in _all_optimizers():
        clone = type(opt)(**opt.hyperparameters())
        assert clone.hyperparameters() == opt.hyperparameters()
        assert repr(clone) == repr(opt)


def test_repr():
    assert repr(Adam()) == "Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-08)"
    assert repr(SGD(momentum=0.9)) == "SGD(lr=0.1, momentum=0.9, nesterov=False)"
    assert repr(RMSprop()) == "RMSprop(lr=0.01, rho=0.99, epsilon=1e-08)"
    assert repr(AdaGrad()) == "AdaGrad(lr=0.01, epsilon=1e-10, initial_accumulator=0.0)"


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (SGD, {"lr": 0.0}, "lr"),
        (SGD, {"lr": -0.1}, "lr"),
        (SGD, {"lr": float("nan")}, "lr"),
        (SGD, {"momentum": 1.0}, "momentum"),
        (SGD, {"momentum": -0.1}, "momentum"),
        (SGD, {"nesterov": True}, "nesterov"),
        (Adam, {"lr": 0.0}, "lr"),
        (Adam, {"beta_1": 1.0}, "beta_1"),
        (Adam, {"beta_2": -0.5}, "beta_2"),
        (Adam, {"epsilon": 0.0}, "epsilon"),
        (RMSprop, {"rho": 1.0}, "rho"),
        (RMSprop, {"epsilon": -1e-8}, "epsilon"),
        (AdaGrad, {"epsilon": 0.0}, "epsilon"),
        (AdaGrad, {"initial_accumulator": -1.0}, "initial_accumulator"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


def test_non_numeric_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match="lr"):
        Adam(lr="0.1")


def test_docstring_examples_run():
    result = doctest.testmod(optimizers)
    assert result.attempted > 0
    assert result.failed == 0
