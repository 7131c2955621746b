"""Run a short training and SIGKILL this process at a chosen moment (used by test_resume.py).

usage: python _killed_run.py RUN_DIR MODE N [detection]
  MODE step:  die right after optimizer step N, before anything is saved for it
  MODE epoch: die right after epoch N has been checkpointed and logged
  MODE write: die halfway through writing the N-th checkpoint file
  MODE none:  run to the end
"""

import io
import os
import signal
import sys

import torch

from cnnlab.engine import Callback, TrainConfig, train

CONFIG = dict(
    model="lenet5", data="digits", epochs=2, batch_size=128, optimizer="sgd", lr=0.05, momentum=0.9,
    dropout=0.3, act="relu", augment="", checkpoint_every=4, progress=False, seed=11,
)  # fmt: skip
# A detector on a small shapes detection set: boxes, the detection task's loss, box-aware augmentation, COCO mAP.
DETECTION = dict(
    model="tinydet", data="shapes", data_kwargs={"task": "detection", "n_train": 200, "n_test": 64}, epochs=2,
    batch_size=32, optimizer="adamw", lr=3e-3, augment="flip,translate:2", checkpoint_every=3, progress=False,
    seed=5, model_kwargs={"widths": [8, 16, 32], "neck_width": 16},
)  # fmt: skip


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(Callback):
    def __init__(self, mode: str, n: int):
        self.mode, self.n = mode, n

    def on_step_end(self, state):
        if self.mode == "step" and state.step == self.n:
            die()

    def on_epoch_end(self, state):
        if self.mode == "epoch" and state.epoch == self.n:
            die()


def main() -> None:
    run_dir, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "write":
        real_save, count = torch.save, [0]

        def torn_save(obj, f, *args, **kwargs):
            count[0] += 1
            if count[0] != n:
                return real_save(obj, f, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: buffer.tell() // 2])
            f.flush()
            die()

        torch.save = torn_save
    config = DETECTION if sys.argv[4:] == ["detection"] else CONFIG
    train(TrainConfig(**config, out=run_dir), callbacks=[KillAt(mode, n)], log=lambda _: None)


if __name__ == "__main__":
    main()
