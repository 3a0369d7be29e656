"""Scenarios the distributed tests launch under ``mpiexec -n N``; each rank writes what it saw
to ``<out>/<scenario>.<rank>.json`` (argv: scenario, out directory, extra arguments)."""

import json
import os
import sys
import warnings

import numpy as np

import backprop as bp
from backprop import distributed

OPTIMIZERS = {
    "sgd": lambda: bp.SGD(lr=0.1),
    "momentum": lambda: bp.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: bp.Adam(lr=0.01),
    "rmsprop": lambda: bp.RMSprop(lr=0.01),
    "adagrad": lambda: bp.AdaGrad(lr=0.1),
}


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    w = rng.uniform(0.2, 2.0, size=n)
    w[::5] = 0.0  # some rows count for nothing
    return X, y, w


def network():
    return bp.Network([3, 5, 2], output="softmax", loss="cross_entropy", dtype="float64", seed=4)


def global_order(n, size, batch):
    """The rows of one process whose batch k of size·batch is the union of the ranks' k-th."""
    shards = [distributed.shard(n, r, size) for r in range(size)]
    order = []
    for start in range(0, max(len(s) for s in shards), batch):
        for s in shards:
            order.extend(list(s)[start : start + batch])
    return np.array(order)


def equivalence(out):
    size = distributed.size()
    results = {}
    for n in (12 * size, 12 * size + 1):
        X, y, w = data(n)
        rows = distributed.shard(n)
        for name, make in OPTIMIZERS.items():
            for weighted in (False, True):
                options = dict(epochs=3, batch_size=2, shuffle=False, l2=0.01, warn=False)
                net = network()
                sw = w[rows.start : rows.stop] if weighted else None
                history = net.fit(
                    X[rows.start : rows.stop],
                    y[rows.start : rows.stop],
                    optimizer=make(),
                    sample_weight=sw,
                    distributed="layers" if weighted else "fused",  # both reductions
                    **options,
                )
                order = global_order(n, size, 2)
                alone = network()
                reference = alone.fit(
                    X[order],
                    y[order],
                    optimizer=make(),
                    batch_size=2 * size,
                    sample_weight=w[order] if weighted else None,
                    **{k: v for k, v in options.items() if k != "batch_size"},
                )
                scale = np.abs(alone.params).max()
                results[f"{n}-{name}-{weighted}"] = {
                    "params": float(np.abs(net.params - alone.params).max() / scale),
                    "loss": max(
                        abs(a / b - 1) for a, b in zip(history.loss, reference.loss, strict=True)
                    ),
                    "checksum": float(np.sum(net.params * np.arange(net.params.size))),
                }
    write(out, "equivalence", results)


def history(out):
    """Shuffled, validated, early-stopped training: every rank's record."""
    n = 90
    X, y, _ = data(n, seed=1)
    rows = distributed.shard(n)
    Xv, yv, _ = data(31, seed=2)
    vrows = distributed.shard(31)
    net = network()
    record = net.fit(
        X[rows.start : rows.stop],
        y[rows.start : rows.stop],
        epochs=200,
        batch_size=4,
        optimizer=bp.Adam(lr=0.2),
        schedule="plateau" if len(sys.argv) > 3 else None,
        validation_data=(Xv[vrows.start : vrows.stop], yv[vrows.start : vrows.stop]),
        early_stopping=bp.EarlyStopping(patience=3),
        warn=False,
        distributed=True,
    )
    write(
        out,
        "history",
        {
            "epochs": len(record),
            "loss": record.loss,
            "val_loss": record.val_loss,
            "state": json.loads(json.dumps(record.state(), default=repr)),
            "params": net.params.tolist(),
            "stopped_early": record.stopped_early,
        },
    )


def checkpoint(out):
    """argv[3]: checkpoint path; argv[4]: epochs; argv[5]: 'go' to stop after one epoch."""
    path, epochs = sys.argv[3].replace("RANK", str(distributed.rank())), int(sys.argv[4])
    n = 50
    X, y, _ = data(n, seed=3)
    rows = distributed.shard(n)
    net = network()

    def interrupt(net, epoch, logs):
        if len(sys.argv) > 5 and epoch == 1 and distributed.rank() == 1:
            raise KeyboardInterrupt

    try:
        net.fit(
            X[rows.start : rows.stop],
            y[rows.start : rows.stop],
            epochs=epochs,
            batch_size=4,
            optimizer="adam",
            warn=False,
            checkpoint=path,
            resume=True,
            distributed=True,
            callbacks=[interrupt],
        )
        outcome = "done"
    except KeyboardInterrupt:
        outcome = "interrupted"
    write(out, "checkpoint", {"outcome": outcome, "params": net.params.tolist()})


def interrupted(out):
    """argv[3]: checkpoint path; argv[4]: epochs. Rank 0 prints EPOCH after each epoch."""
    n = 600
    X, y, _ = data(n, seed=5)
    rows = distributed.shard(n)
    net = network()

    def say(net, epoch, logs):
        if distributed.rank() == 0:
            print("EPOCH", epoch, flush=True)

    net.fit(
        X[rows.start : rows.stop],
        y[rows.start : rows.stop],
        epochs=int(sys.argv[4]),
        batch_size=2,
        optimizer="adam",
        warn=False,
        checkpoint=sys.argv[3],
        resume=True,
        distributed=True,
        callbacks=[say],
    )
    write(out, "interrupted", {"params": net.params.tolist()})


def failure(out):
    """A NaN in rank 1's shard, or (argv[3] == 'raise') an exception on the last rank."""
    n = 30
    X, y, _ = data(n)
    rows = distributed.shard(n)
    X = X[rows.start : rows.stop].copy()
    net = network()
    last = distributed.size() - 1

    def boom(net, epoch, logs):
        if epoch == 2 and distributed.rank() == last:
            raise OSError("No space left on device")

    if sys.argv[3] == "nan" and distributed.rank() == 1:
        X[0, 0] = np.inf
    try:
        net.fit(
            X,
            y[rows.start : rows.stop],
            epochs=5,
            batch_size=4,
            warn=False,
            distributed=True,
            callbacks=[boom] if sys.argv[3] == "raise" else [],
        )
        message = None
    except Exception as error:  # noqa: BLE001 - the test compares every rank's error
        message = f"{type(error).__name__}: {error}"
    write(out, "failure", {"message": message})


def killed(out):
    """Rank 1 kills itself mid-training; the others would wait for it forever."""
    n = 40
    X, y, _ = data(n)
    rows = distributed.shard(n)

    def die(net, epoch, logs):
        if epoch == 1 and distributed.rank() == 1:
            os.kill(os.getpid(), 9)

    network().fit(
        X[rows.start : rows.stop],
        y[rows.start : rows.stop],
        epochs=10**6,
        batch_size=4,
        warn=False,
        distributed=True,
        callbacks=[die],
    )


def validation(out):
    """Validation data on rank 0 only (argv[3] 'data') or a validation split on the last rank
    only ('split'): every rank must refuse alike, with nothing changed."""
    X, y, _ = data(24)
    rows = distributed.shard(24)
    net = network()
    before = net.params.copy()
    options = {}
    if sys.argv[3] == "data" and distributed.rank() == 0:
        options["validation_data"] = (X[:4], y[:4])
    if sys.argv[3] == "split" and distributed.rank() == distributed.size() - 1:
        options["validation_split"] = 0.25
    try:
        net.fit(
            X[rows.start : rows.stop],
            y[rows.start : rows.stop],
            epochs=2,
            batch_size=4,
            warn=False,
            distributed=True,
            **options,
        )
        message = None
    except Exception as error:  # noqa: BLE001 - the test compares every rank's error
        message = f"{type(error).__name__}: {error}"
    unchanged = bool(np.array_equal(net.params, before))
    write(out, "validation", {"message": message, "unchanged": unchanged})


class RecordingComm:
    """The world communicator, noting each all-reduce it starts (with its size) in ``events``."""

    def __init__(self, comm, events):
        self.comm, self.events = comm, events

    def Iallreduce(self, send, receive, op):  # noqa: N802 - mpi4py's name
        self.events.append(("allreduce", int(np.asarray(receive).size)))
        return self.comm.Iallreduce(send, receive, op=op)

    def __getattr__(self, name):
        return getattr(self.comm, name)


def overlap(out):
    """The events of each step in the order they happen: the backward pass's start and end
    and each all-reduce started, with the all-reduces during (argv[3] 'during') or after it."""
    from backprop.training import step as step_module

    events = []
    backward = step_module.backward

    def recorded_backward(*arguments, **options):
        events.append(("backward", "start"))
        backward(*arguments, **options)
        events.append(("backward", "end"))

    step_module.backward = recorded_backward
    call = step_module.TrainingStep.__call__

    def recorded_step(self, *arguments, **options):
        events.append(("step", "start"))
        try:
            return call(self, *arguments, **options)
        finally:
            events.append(("step", "end"))

    step_module.TrainingStep.__call__ = recorded_step
    session = distributed.Session(
        distributed.world(), "layers", during_backward=sys.argv[3] == "during"
    )
    session.collectives.comm = RecordingComm(session.collectives.comm, events)
    X, y, _ = data(8)
    rows = distributed.shard(8)
    net = bp.Network([3, 5, 4, 2], output="softmax", loss="cross_entropy", seed=4)
    events.clear()
    net.fit(
        X[rows.start : rows.stop],
        y[rows.start : rows.stop],
        epochs=1,
        batch_size=2,
        shuffle=False,
        warn=False,
        distributed=session,
    )
    steps, current = [], None
    for event in events:
        if event == ("step", "start"):
            current = []
            steps.append(current)
        elif event == ("step", "end"):
            current = None
        elif current is not None:
            current.append(list(event))
    write(
        out,
        "overlap",
        {
            "steps": steps,
            "slices": [[l.grad_W.size, l.grad_b.size] for l in net.layers[1:]],
            "params": net.params.tolist(),
        },
    )


def write(out, scenario, result):
    with open(os.path.join(out, f"{scenario}.{distributed.rank()}.json"), "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    warnings.simplefilter("error", RuntimeWarning)
    globals()[sys.argv[1]](sys.argv[2])
