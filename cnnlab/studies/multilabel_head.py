"""multilabel-head: softmax picks one class; several labels per image need a per-class sigmoid and a threshold.

Claim: softmax turns K scores into K probabilities that sum to 1, so the class with the largest one is the
prediction; to give an image several labels, each class needs its own logistic (sigmoid) output, and a class is
predicted when its output exceeds a threshold.

Question: on shapes images holding 1–4 shapes, how well does a net with per-class sigmoid outputs (threshold 0.5)
decide each class (macro F1) and get an image's whole label set right (exact match), against the same net with a
softmax output and a fair rule for reading several labels from it; and on one-shape images, is softmax at least as
accurate as per-class sigmoids?

Design: multi-label arms on shapes `task='multilabel'` (32×32 px, 2×2 cells, 1–4 shapes, difficulty 0, data seed
51): `sigmoid` trains per-class binary cross-entropy (the engine's multi-label loss) and predicts every class whose
sigmoid exceeds 0.5; `softmax` trains softmax cross-entropy against the label distribution (1/|Y| on each of the
image's |Y| labels). The engine's 'ce' loss takes one class id per image, so the softmax arm trains on each image
repeated once per label, each copy with one of its labels: the sum of those losses is |Y| times the cross-entropy
against the label distribution, whose minimum puts 1/|Y| on each label. The copies are about 2.3 per image, so the
softmax arm runs for proportionally fewer epochs: about as many optimizer steps as the sigmoid arm. Its rule: predict
every class whose probability is at least half the largest. That needs no knowledge of how many labels an image has
(picking the top |Y| would be an oracle; it is reported as an upper bound, not judged) and recovers the label set
exactly when the net matches the label distribution. Metrics on the test images: macro F1 (the deciding number),
exact match, and mAP (macro average precision per class, threshold-free: it judges the ranking, not the rule).
Single-label arms `sigmoid-single` and `softmax-single` train the same net on one-shape images (16×16 px, difficulty
0, data seed 51) with 'bce' and 'ce'; both predict the arg max. Held fixed: small_cnn (3×3 conv-BN-ReLU stages at
8, 16, 32 channels, 2×2 max pools, flatten + FC head), Adam at lr 0.003 with cosine decay, batch 32, the epochs per
profile. The seed sets the initial weights and the data order.
"""

from __future__ import annotations

from typing import Any

import torch

from ..data import TensorDataset
from ..metrics.classification import multilabel_average_precision, multilabel_precision_recall_f1
from ._base import Context, Results, Study, Table, Verdict
from ._common import fit, shapes_data
from ._nets import FAILS, HOLDS, UNDECIDED, combine, outputs, part
from ._registry import register_study
from .stats import effect, mean_std

ARMS = ("sigmoid", "softmax", "sigmoid-single", "softmax-single")
MIN_F1 = 0.05  # per-class sigmoids must reach ≥ 5 more points of macro F1 (each class decided on its own)
MIN_MAP = 0.5  # the comparison means something only if the better multi-label arm ranks the labels this well
MAX_SINGLE_LOSS = 0.02  # softmax "suits picking one class" if it loses < 2 accuracy points to sigmoids (CI above −2)
SIGMOID_THRESHOLD = 0.5  # the engine's multi-label threshold
SOFTMAX_RATIO = 0.5  # softmax arm: predict every class with probability ≥ this fraction of the largest

PROFILES = {
    "quick": {"n_multi": 800, "n_single": 800, "n_test": 400, "epochs": 8, "single_epochs": 6, "widths": [8, 16, 32]},
    "full": {
        "n_multi": 8000,
        "n_single": 8000,
        "n_test": 2000,
        "epochs": 20,
        "single_epochs": 15,
        "widths": [8, 16, 32],
    },
}
DIFFICULTY = 0.0
DATA_SEED = 51
MULTI_SIZE, SINGLE_SIZE = 32, 16


def _multi(p: Any) -> tuple[TensorDataset, TensorDataset]:
    return shapes_data(p["n_multi"], p["n_test"], task="multilabel", image_size=MULTI_SIZE, difficulty=DIFFICULTY,
                       seed=DATA_SEED)  # fmt: skip


def _single(p: Any) -> tuple[TensorDataset, TensorDataset]:
    return shapes_data(p["n_single"], p["n_test"], image_size=SINGLE_SIZE, difficulty=DIFFICULTY, seed=DATA_SEED)


def one_label_per_copy(data: TensorDataset) -> TensorDataset:
    """Each multi-label image repeated once per label, each copy with one class id: (N, K) 0/1 -> (Σ|Y|,) ids.

    The normalization statistics stay those of the original images."""
    rows, labels = torch.nonzero(data.targets > 0.5, as_tuple=True)  # one (image, label) pair per positive
    return TensorDataset(data.images[rows], labels, data.classes, name=f"{data.name}/per-label", mean=data.mean,
                         std=data.std)  # fmt: skip


def softmax_epochs(epochs: int, n_images: int, n_copies: int) -> int:
    """Epochs over the per-label copies that take about as many steps as `epochs` over the images."""
    return max(1, round(epochs * n_images / n_copies))


def softmax_labels(probs: torch.Tensor, ratio: float = SOFTMAX_RATIO) -> torch.Tensor:
    """(N, K) bool: the classes whose softmax probability is at least `ratio` times the image's largest."""
    return probs >= ratio * probs.max(dim=1, keepdim=True).values


def top_true_count(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, K) bool: each image's top |Y| classes, |Y| its true label count (an oracle, for an upper bound)."""
    ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)  # (N, K) rank of each class, 0 = best
    return ranks < targets.sum(dim=1, keepdim=True)


def label_set_metrics(targets: torch.Tensor, predicted: torch.Tensor, scores: torch.Tensor) -> dict[str, float]:
    """Exact match, macro F1 of the predicted (N, K) label sets, and mAP of the (N, K) scores."""
    truth = targets > 0.5
    prf = multilabel_precision_recall_f1(truth, predicted.float(), thresholds=0.5)
    return {
        "exact_match": float((predicted == truth).all(dim=1).float().mean()),
        "macro_f1": float(prf.macro_f1),
        "map": float(multilabel_average_precision(truth, scores).macro),
        "mean_predicted": float(predicted.sum(dim=1).float().mean()),
    }


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    common = {"model": "small_cnn", "batch_size": 32, "lr": 0.003, "optimizer": "adam",
              "model_kwargs": {"widths": tuple(ctx["widths"])}}  # fmt: skip
    if arm.endswith("-single"):
        data = _single(ctx)
        loss = "bce" if arm.startswith("sigmoid") else "ce"
        result = fit(ctx, seed, data, loss=loss, epochs=ctx["single_epochs"], **common)
        numbers: dict[str, Any] = {"test_accuracy": result.test_accuracy}
        if arm.startswith("softmax"):
            _, logits = outputs(result.model, data[1])
            numbers["sum_error"] = float((logits.softmax(1).sum(1) - 1).abs().max())
        return numbers
    train, test = _multi(ctx)
    if arm == "sigmoid":
        result = fit(ctx, seed, (train, test), loss="bce", threshold=SIGMOID_THRESHOLD, epochs=ctx["epochs"],
                     **common)  # fmt: skip
    else:
        copies = one_label_per_copy(train)
        epochs = softmax_epochs(ctx["epochs"], len(train), len(copies))
        result = fit(ctx, seed, (copies, one_label_per_copy(test)), loss="ce", epochs=epochs, **common)
    _, logits = outputs(result.model, test)
    if arm == "sigmoid":
        scores = logits.sigmoid()
        predicted = scores > SIGMOID_THRESHOLD
    else:
        scores = logits.softmax(1)
        predicted = softmax_labels(scores)
    numbers = label_set_metrics(test.targets, predicted, scores)
    oracle = top_true_count(scores, test.targets)
    numbers["oracle_exact_match"] = float((oracle == (test.targets > 0.5)).all(dim=1).float().mean())
    numbers["steps"] = result.steps
    return numbers


def single_part(diff) -> str:
    """Non-inferiority of softmax on one-shape images: holds if the CI of softmax − sigmoid lies above −MAX."""
    if diff.interval.low > -MAX_SINGLE_LOSS:
        return HOLDS
    if diff.interval.high < 0 and diff.mean <= -MAX_SINGLE_LOSS:
        return FAILS
    return UNDECIDED


def decide(r: Results) -> Verdict:
    multi = effect(r.values("sigmoid", "macro_f1"), r.values("softmax", "macro_f1"), MIN_F1)
    single = effect(r.values("softmax-single", "test_accuracy"), r.values("sigmoid-single", "test_accuracy"),
                    MAX_SINGLE_LOSS)  # fmt: skip
    multi_state, single_state = part(multi.direction), single_part(single)
    kind = combine([multi_state, single_state])
    f1 = {arm: mean_std(r.values(arm, "macro_f1"), 100) for arm in ("sigmoid", "softmax")}
    ap = {arm: mean_std(r.values(arm, "map"), 100) for arm in ("sigmoid", "softmax")}
    sums = float(r.values("softmax-single", "sum_error").max())
    numbers = (
        f"on 1–4 shapes per image, macro F1 {f1['sigmoid']}% with sigmoids vs {f1['softmax']}% with softmax (paired "
        f"{multi.interval.format(100, unit=' pts')}), label sets exactly right "
        f"{mean_std(r.values('sigmoid', 'exact_match'), 100)}% vs "
        f"{mean_std(r.values('softmax', 'exact_match'), 100)}%, "
        f"mAP {ap['sigmoid']}% vs {ap['softmax']}%; on one shape per image softmax "
        f"{mean_std(r.values('softmax-single', 'test_accuracy'), 100)}% vs sigmoid "
        f"{mean_std(r.values('sigmoid-single', 'test_accuracy'), 100)}% (paired "
        f"{single.interval.format(100, unit=' pts')}); softmax sums to 1 within {sums:.0e}; {len(r.seeds)} seeds"
    )
    short = f"macro F1 {multi.mean * 100:+.1f} pts for sigmoid"
    best_map = max(float(r.values(arm, "map").mean()) for arm in ("sigmoid", "softmax"))
    if best_map < MIN_MAP:
        return Verdict("inconclusive", f"The nets did not learn the multi-label task at this budget (best mAP "
                       f"{best_map * 100:.1f}% < {MIN_MAP * 100:.0f}%): {numbers}.", short)  # fmt: skip
    if kind == "supported":
        sentence = f"Softmax suited one label and per-class sigmoids were needed for several: {numbers}."
    elif kind == "refuted":
        sentence = f"Softmax with a fair rule matched sigmoids on label sets and lost on single labels: {numbers}."
    elif kind == "nuanced":
        held = "multi-label part" if multi_state == HOLDS else "single-label part"
        sentence = f"Only the {held} held: {numbers}."
    else:
        sentence = f"Too noisy to decide both parts at this budget: {numbers}."
    return Verdict(kind, sentence, short)


def table(r: Results) -> Table:
    rows = []
    for arm in ("sigmoid", "softmax"):
        rows.append((arm, "1–4 shapes", mean_std(r.values(arm, "exact_match"), 100),
                     mean_std(r.values(arm, "oracle_exact_match"), 100), mean_std(r.values(arm, "macro_f1"), 100),
                     mean_std(r.values(arm, "map"), 100), mean_std(r.values(arm, "mean_predicted"), 1, 2)))  # fmt: skip
    for arm in ("sigmoid-single", "softmax-single"):
        rows.append((arm.removesuffix("-single"), "1 shape", mean_std(r.values(arm, "test_accuracy"), 100), "—", "—",
                     "—", "1"))  # fmt: skip
    return Table(("output", "images", "exact match / accuracy %", "top-|Y| (oracle) %", "macro F1 %", "mAP %",
                  "labels predicted"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    groups = [("exact_match", "exact match"), ("macro_f1", "macro F1"), ("map", "mAP")]
    for g, (key, _) in enumerate(groups):
        for k, (arm, color) in enumerate((("sigmoid", "C0"), ("softmax", "C1"))):
            vals = r.values(arm, key) * 100
            x = g + (k - 0.5) * 0.35
            ax.bar(x, vals.mean(), width=0.33, color=color, alpha=0.35, label=arm if g == 0 else None)
            ax.scatter([x] * len(vals), vals, color=color, s=14, zorder=3)
    ax.set_xticks(range(len(groups)), [label for _, label in groups])
    ax.set_ylabel("test score on 1–4 shapes per image (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Several labels per image: sigmoid + threshold vs softmax")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


STUDY = register_study(
    Study(
        id="multilabel-head",
        title="Softmax vs per-class sigmoid outputs",
        topic="Classification: softmax and logistic outputs",
        claim="Softmax outputs sum to 1 and suit picking the one most likely class; to give an image several labels, "
        "each class needs its own logistic (sigmoid) output and a threshold.",
        question="On images with 1–4 shapes, how many more label sets does a per-class sigmoid output get exactly "
        "right than a softmax output read with a fair rule (macro F1 over classes, exact match), and on one-shape "
        "images is softmax as accurate?",
        design="Multi-label arms (32×32 px, 2×2 cells, 1–4 shapes): sigmoid + binary cross-entropy, threshold 0.5; "
        "softmax + cross-entropy against the label distribution (each image repeated once per label), predicting "
        "every class with at least half the largest probability, trained for about as many steps. Single-label arms "
        "(16×16 px): 'bce' vs 'ce', arg max. small_cnn 8-16-32 channels, flatten + FC; Adam lr 0.003, cosine decay, "
        "batch 32; quick 8 epochs on 800 multi-label images and 6 on 800 single-label ones, full 20 and 15 epochs "
        "on 8,000 each.",
        rule=f"Inconclusive if neither multi-label arm reaches an mAP of {MIN_MAP * 100:.0f}% (the nets did not learn "
        f"the task). Otherwise two parts: per-class sigmoids reach ≥ {MIN_F1 * 100:.0f} more points of macro F1 "
        "(95% CI of the paired difference above 0; negligible or reversed fails); and softmax loses less than "
        f"{MAX_SINGLE_LOSS * 100:.0f} accuracy points on one-shape images (CI above −{MAX_SINGLE_LOSS * 100:.0f}; "
        "fails if the CI lies below 0 with a mean loss of at least that). Supported if both hold, refuted if both "
        "fail, nuanced if one holds and one fails, otherwise inconclusive. Exact match, mAP and the top-|Y| oracle "
        "are reported.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
