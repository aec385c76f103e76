"""The Keras and Lightning callbacks. Keras (jax backend) is installed by
`make test`; torch and lightning by `make test-frameworks` only."""

import os

import numpy as np
import pytest


def _require(name):
    if os.environ.get("EVALKIT_REQUIRE_KERAS") == "1" and name == "keras":
        return __import__(name)
    return pytest.importorskip(name)


def test_keras_callback_logs_the_fast_tier_and_stops():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = _require("keras")
    from evalkit.callbacks import KerasCallback

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype("float32")
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=600) > 0).astype("int64")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy")
    cb = KerasCallback(validation_data=(X[400:], y[400:]), monitor="log_loss", patience=2, sample=None)
    history = model.fit(X[:400], y[:400], epochs=10, batch_size=50, verbose=0, callbacks=[cb])
    # A learning rate of 0 is a plateau from the start: stops after patience.
    assert len(history.history["fast/log_loss"]) == 3
    assert "fast/accuracy" in history.history


def test_lightning_callback():
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("lightning.pytorch")
    from evalkit.callbacks import LightningCallback

    class Model(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, i):
            x, y = batch
            return torch.nn.functional.binary_cross_entropy_with_logits(self.lin(x)[:, 0], y)

        def validation_step(self, batch, i):
            x, y = batch
            return {"y_true": y.long(), "y_score": torch.sigmoid(self.lin(x)[:, 0])}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=g)
    y = (x[:, 0] > 0).float()
    ds = torch.utils.data.TensorDataset(x, y)
    dl = torch.utils.data.DataLoader(ds, batch_size=50)
    cb = LightningCallback(sample=None)
    trainer = pl.Trainer(max_epochs=2, callbacks=[cb], logger=False, enable_progress_bar=False, enable_checkpointing=False)
    trainer.fit(Model(), dl, dl)
    assert len(cb.hook.history) == 2
    assert "fast/log_loss" in trainer.callback_metrics
