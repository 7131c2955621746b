"""CUDA paths: mixed precision, the fp16 grad scaler in checkpoints, channels_last and torch.compile.

Skipped where PyTorch sees no CUDA device (the CI machine); run on a GPU machine with
`python -m pytest tests/engine/test_cuda.py`.
"""

import pytest
import torch

from cnnlab.engine import Callback, TrainConfig, load_checkpoint, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

BASE = dict(model="resnet20", data="digits", epochs=2, batch_size=128, device="cuda", progress=False)  # fmt: skip


def quiet(config, **kw):
    return train(config, log=lambda _: None, **kw)


@pytest.mark.parametrize("amp", ["bf16", "fp16", "off"])
def test_mixed_precision_trains(tmp_path, amp):
    result = quiet(TrainConfig(**BASE, amp=amp, lr=3e-3, out=str(tmp_path / amp)))
    assert result.test_accuracy > 0.5  # far above the 0.1 of chance after two epochs
    assert torch.isfinite(torch.tensor(result.test_loss))


class Crash(Callback):
    def on_step_end(self, state):
        if state.step == 15:
            raise KeyboardInterrupt


def test_fp16_grad_scaler_is_checkpointed_and_restored(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        quiet(TrainConfig(**BASE, amp="fp16", out=str(run)), callbacks=[Crash()])
    saved = load_checkpoint(run / "checkpoints" / "last.pt")
    assert saved["scaler"] is not None and saved["scaler"]["scale"] > 0
    seen = {}

    class Look(Callback):
        def on_train_start(self, state):
            seen["step"] = state.step

    result = train(resume=run, callbacks=[Look()], log=lambda _: None)
    assert seen["step"] == saved["step"] == 11 and result.steps == 22


def test_channels_last_and_compile_match_eager(tmp_path):
    eager = quiet(TrainConfig(**BASE, amp="off", channels_last="off", seed=4, out=str(tmp_path / "a")))
    fast = quiet(TrainConfig(**BASE, amp="off", channels_last="on", compile=True, seed=4, out=str(tmp_path / "b")))
    assert fast.test_accuracy == pytest.approx(eager.test_accuracy, abs=0.03)
    assert fast.test_loss == pytest.approx(eager.test_loss, rel=0.1)
