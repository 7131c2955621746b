"""Run a short training and SIGKILL its process at a chosen moment (used by test_resume.py and
test_detection_train.py through `killed_run`, which forks the run from a fork server that has imported torch and
cnnlab once: eight killed runs would otherwise import them eight times, about 4 s of CPU each).

usage: python _killed_run.py RUN_DIR MODE N [detection]
  MODE step:  die right after optimizer step N, before anything is saved for it
  MODE epoch: die right after epoch N has been checkpointed and logged
  MODE write: die halfway through writing the N-th checkpoint file
  MODE none:  run to the end
"""

import io
import multiprocessing
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


def train_until_killed(run_dir: str, mode: str, n: int, detection: bool = False) -> None:
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
    config = DETECTION if detection else CONFIG
    train(TrainConfig(**config, out=run_dir), callbacks=[KillAt(mode, n)], log=lambda _: None)


def killed_run(run_dir, mode: str, n: int, detection: bool = False) -> int:
    """`train_until_killed` in a process of its own, forked from the fork server (started by the first call, on one
    torch thread as the suite's processes are); returns its exit code: -SIGKILL when it died as planned."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "torch._dynamo"])  # torch.optim's first step imports the latter
    process = context.Process(target=train_until_killed, args=(str(run_dir), mode, n, detection))
    process.start()
    process.join()
    return process.exitcode


def main() -> None:
    train_until_killed(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:] == ["detection"])


if __name__ == "__main__":
    main()
