"""Training-loop integrations over :class:`evalkit.Evaluator`.

- :class:`FastEvalHook` — plain Python, for custom loops.
- :class:`KerasCallback` — Keras 3 (``keras`` is imported only when used).
- :class:`LightningCallback` — PyTorch Lightning (``lightning`` imported
  only when used).

Each epoch: the validation predictions go through the fast tier and its
metrics are logged; every ``full_every`` epochs the full tier runs and, with
``report_dir``, an HTML report is written; with ``monitor``, training stops
when that fast-tier metric has not improved by ``min_delta`` for
``patience`` epochs.

Epochs keep the training loop's own numbers (0-based in Keras, Lightning and
``for epoch in range(n)``): the ``log`` callback, ``stopped_epoch``, the report
files (``epoch_0004.html``) and their titles ("epoch 4") all use the number the
loop passed. Logged values are rounded to 12 significant digits, below which
there is only the float summation's noise (0.84, not 0.8400000000000001).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from . import Evaluator, Result, report

_LOWER_IS_BETTER = {"log_loss", "brier", "ece", "mse", "rmse", "mae", "max_error"}


class FastEvalHook:
    """Per-epoch evaluation for any training loop.

    >>> import numpy as np
    >>> from evalkit.callbacks import FastEvalHook
    >>> hook = FastEvalHook(monitor="log_loss", patience=2)
    >>> for epoch in range(10):
    ...     scores = np.array([0.4, 0.6, 0.45, 0.55])  # a model that stopped learning
    ...     logs = hook.on_epoch_end(epoch, np.array([0, 1, 0, 1]), scores)
    ...     if hook.should_stop:
    ...         break
    >>> epoch, hook.stopped_epoch
    (2, 2)
    """

    def __init__(
        self,
        *,
        task: Optional[str] = None,
        sample: Union[int, str, None] = 10_000,
        seed: int = 0,
        full_every: int = 0,
        bootstrap: int = 1000,
        report_dir: Optional[str] = None,
        monitor: Optional[str] = None,
        mode: Optional[str] = None,
        patience: int = 3,
        min_delta: float = 0.0,
        log: Optional[Callable[[int, Dict[str, float]], None]] = None,
    ):
        self.evaluator = Evaluator(task=task)
        self.sample = sample
        self.seed = seed
        self.full_every = full_every
        self.bootstrap = bootstrap
        self.report_dir = report_dir
        self.monitor = monitor
        if mode is None and monitor is not None:
            mode = "min" if monitor in _LOWER_IS_BETTER else "max"
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.log = log
        self.best: Optional[float] = None
        self.wait = 0
        self.should_stop = False
        self.stopped_epoch: Optional[int] = None
        self.history: List[Dict[str, float]] = []
        self.last_full: Optional[Result] = None
        self.reports: List[str] = []

    def update(self, y_true: Any, y_score: Any) -> None:
        """Adds a validation batch for the current epoch."""
        self.evaluator.update(y_true, y_score)

    def on_epoch_end(self, epoch: int, y_true: Any = None, y_score: Any = None) -> Dict[str, float]:
        """Evaluates the epoch's predictions (given here, or collected with
        :meth:`update`); returns the logged values (``fast/<metric>``, and
        ``full/<metric>`` on full-tier epochs)."""
        if y_true is not None:
            self.evaluator.update(y_true, y_score)
        r = self.evaluator.compute_fast(sample=self.sample, seed=self.seed)
        logs = {f"fast/{k}": _logged(m.value) for k, m in r.metrics.items() if m.value is not None}
        # Every `full_every` epochs seen: epochs 4, 9, ... of a 0-based loop
        # with full_every=5.
        if self.full_every and (epoch + 1) % self.full_every == 0:
            full = self.evaluator.compute_full(bootstrap=self.bootstrap, seed=self.seed)
            self.last_full = full
            logs.update({f"full/{k}": _logged(m.value) for k, m in full.metrics.items() if m.value is not None})
            if self.report_dir:
                os.makedirs(self.report_dir, exist_ok=True)
                path = os.path.join(self.report_dir, f"epoch_{epoch:04d}.html")
                report([full], path, names=[f"epoch {epoch}"], bootstrap=self.bootstrap, seed=self.seed)
                self.reports.append(path)
        self.evaluator.reset()
        self.history.append(logs)
        if self.log is not None:
            self.log(epoch, logs)
        if self.monitor is not None:
            self._early_stop(epoch, r)
        return logs

    def _early_stop(self, epoch: int, r: Result) -> None:
        v = r[self.monitor].value
        if v is None or math.isnan(v):
            return
        better = (
            self.best is None
            or (self.mode == "min" and v < self.best - self.min_delta)
            or (self.mode == "max" and v > self.best + self.min_delta)
        )
        if better:
            self.best = v
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.should_stop = True
                self.stopped_epoch = epoch


def _logged(value: float) -> float:
    """A metric value for a training log: 12 significant digits."""
    return float(f"{value:.12g}")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x)


class KerasCallback:
    """A Keras 3 callback: predicts ``validation_data`` at each epoch end,
    logs ``fast/<metric>`` into the epoch's logs (so History and other
    callbacks see them), runs the full tier every ``full_every`` epochs, and
    stops training on a plateau of ``monitor``.

    Built lazily so ``import evalkit.callbacks`` never imports keras.
    """

    def __new__(cls, validation_data: tuple, **hook_options: Any):
        import keras

        hook = FastEvalHook(**hook_options)

        class _Callback(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.hook = hook
                self.x, self.y = validation_data[0], validation_data[1]

            def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
                scores = np.asarray(self.model.predict(self.x, verbose=0))
                if scores.ndim == 2 and scores.shape[1] == 1:
                    scores = scores[:, 0]
                values = self.hook.on_epoch_end(epoch, np.asarray(self.y), scores)
                if logs is not None:
                    logs.update(values)
                if self.hook.should_stop:
                    self.model.stop_training = True

        return _Callback()


class LightningCallback:
    """A PyTorch Lightning callback: collects ``(y_true, y_score)`` from each
    validation batch through ``extract(outputs, batch)`` (default: the
    ``validation_step`` output's ``"y_true"`` and ``"y_score"``), logs the
    fast tier with ``pl_module.log_dict`` at the epoch end, runs the full
    tier every ``full_every`` epochs, and stops on a plateau of ``monitor``.

    Built lazily so ``import evalkit.callbacks`` never imports lightning.
    """

    def __new__(cls, extract: Optional[Callable[[Any, Any], tuple]] = None, **hook_options: Any):
        try:
            import lightning.pytorch as pl
        except ImportError:  # the older package name
            import pytorch_lightning as pl

        hook = FastEvalHook(**hook_options)

        def default_extract(outputs: Any, batch: Any) -> tuple:
            return outputs["y_true"], outputs["y_score"]

        get = extract or default_extract

        class _Callback(pl.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.hook = hook

            def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):  # type: ignore[no-untyped-def]
                y, s = get(outputs, batch)
                self.hook.update(_to_numpy(y), _to_numpy(s))

            def on_validation_epoch_end(self, trainer, pl_module):  # type: ignore[no-untyped-def]
                if trainer.sanity_checking or self.hook.evaluator.rows == 0:
                    self.hook.evaluator.reset()
                    return
                values = self.hook.on_epoch_end(trainer.current_epoch)
                pl_module.log_dict({k: float(v) for k, v in values.items()})
                if self.hook.should_stop:
                    trainer.should_stop = True

        return _Callback()
