"""Progress of a fit: a tqdm bar over epochs when tqdm is installed, else a line per epoch."""

from __future__ import annotations

import sys


class Progress:
    """A tqdm bar over epochs when tqdm is installed, else a line per epoch on stderr."""

    def __init__(self, epochs: int, verbose: bool):
        self.bar = None
        self.verbose = verbose
        self.epoch = 0
        if verbose:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)

    def update(self, logs: dict) -> None:
        if not self.verbose:
            return
        self.epoch += 1
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k != "lr"}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        else:
            text = " ".join(f"{k}={v}" for k, v in shown.items())
            print(f"epoch {self.epoch}: {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
