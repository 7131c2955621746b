"""Greedy layer-wise pretraining (Hinton et al., 2006; Bengio et al., 2007), the first cure for deep nets that
would not train: each hidden layer learns, without labels, to encode the output of the layer below, one layer at a
time; then the whole stack is fine-tuned with labels by the ordinary trainer.

Here each hidden layer of an MLP (linear → norm → act) is the encoder of an autoencoder whose decoder is a fresh
linear layer, trained to reconstruct the layer's input with the squared error: layer 1 reconstructs the
(normalized) images, layer k the outputs of layers 1..k−1, which are already trained and now held fixed. The
decoders are thrown away afterwards; only the encoders' weights stay in the net.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data import TensorDataset, make_loader
from ..errors import ConfigError
from ..layers import LinearNormAct

PRETRAIN_LR = 1e-3  # Adam, for every autoencoder
PRETRAIN_BATCH = 64
_SPEC = re.compile(r"^layerwise(?::(?P<epochs>\d+))?$")


def parse_pretrain(spec: str) -> int:
    """'layerwise' -> 1 epoch per layer, 'layerwise:5' -> 5; '' -> 0 (no pretraining)."""
    if not spec:
        return 0
    match = _SPEC.match(spec.strip())
    if not match or (match["epochs"] is not None and int(match["epochs"]) < 1):
        raise ConfigError(f"pretrain must be 'layerwise' or 'layerwise:EPOCHS' (EPOCHS ≥ 1), got {spec!r}")
    return int(match["epochs"] or 1)


def hidden_layers(model: nn.Module) -> list[LinearNormAct]:
    """The MLP's hidden layers, bottom to top; a model without them cannot be pretrained layer by layer."""
    layers = [m for m in model.modules() if isinstance(m, LinearNormAct)]
    if not layers:
        raise ConfigError(
            f"layer-wise pretraining trains the hidden layers of an MLP one by one; {type(model).__name__} has none "
            "(use --model mlp)"
        )
    return layers


def pretrain_layerwise(
    model: nn.Module,
    data: TensorDataset,
    *,
    epochs: int = 1,
    seed: int = 0,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] = print,
) -> list[float]:
    """Pretrain `model`'s hidden layers greedily as autoencoders on `data`'s images (labels unused).

    Returns the final reconstruction loss (mean squared error per input unit) of each layer.
    """
    layers = hidden_layers(model)
    loader = make_loader(data, PRETRAIN_BATCH, shuffle=True, seed=seed, augment=None, device=device)
    losses = []
    was_training = model.training
    for k, layer in enumerate(layers):
        below = layers[:k]
        decoder = nn.Linear(layer.fc.out_features, layer.fc.in_features).to(device)
        optimizer = torch.optim.Adam([*layer.parameters(), *decoder.parameters()], lr=PRETRAIN_LR)
        layer.train()
        for epoch in range(epochs):
            loader.epoch, loader.position = epoch, 0
            total = count = 0.0
            for batch in loader:
                with torch.no_grad():
                    x = batch.inputs.flatten(1)  # (N, C, H, W) -> (N, C·H·W), as the MLP's Flatten
                    for fixed in below:
                        fixed.eval()
                        x = fixed(x)
                loss = F.mse_loss(decoder(layer(x)), x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * x.shape[0]
                count += x.shape[0]
        losses.append(total / count)
        log(f"pretrain layer {k + 1}/{len(layers)}: reconstruction loss {losses[-1]:.4g} ({epochs} epochs)")
    model.train(was_training)
    return losses
