"""Layers that know their own name inside a model, so that their errors can say which layer failed."""

from __future__ import annotations

from torch import nn


class NamedLayer:
    """Mixin: `layer_name` is set by `name_layers` (the model registry calls it for every model it builds)."""

    layer_name: str | None = None

    def where(self, description: str) -> str:
        """'layer 'features.0.conv' (Conv2d 3→6, 5×5)' or, before naming, just the description."""
        if self.layer_name:
            return f"layer {self.layer_name!r} ({description})"
        return description


def name_layers(model: nn.Module) -> nn.Module:
    """Give every `NamedLayer` inside `model` its qualified name; returns `model` for chaining."""
    for name, module in model.named_modules():
        if isinstance(module, NamedLayer):
            module.layer_name = name or type(module).__name__
    return model
