"""The zoo's recurrent nets read (N, C, H, W) as H·W steps of C features and answer from the last step."""

import pytest
import torch

import cnnlab
from cnnlab.errors import ConfigError


@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_output_is_the_head_of_the_last_hidden_state(name):
    torch.manual_seed(0)
    model = cnnlab.create(name, in_channels=3, input_size=(2, 5), hidden=16, num_classes=4)
    x = torch.randn(6, 3, 2, 5)
    steps = x.flatten(2).transpose(1, 2)  # row-major: 10 steps of 3 features
    out, _ = model.features.cell(steps)
    assert torch.equal(model(x), model.head(out[:, -1]))
    assert steps.shape == (6, 10, 3) and torch.equal(steps[:, 6], x[:, :, 1, 1])
    assert model.input_size == (3, 2, 5)


def test_rnn_nonlinearity_switch_and_errors():
    assert cnnlab.create("rnn", nonlinearity="relu").features.cell.nonlinearity == "relu"
    with pytest.raises(ConfigError, match="gates use sigmoid and tanh"):
        cnnlab.create("lstm", nonlinearity="relu")
    with pytest.raises(ConfigError, match="'tanh' or 'relu'"):
        cnnlab.create("rnn", nonlinearity="sigmoid")
    with pytest.raises(ConfigError, match="takes no argument 'act'"):
        cnnlab.create("rnn", act="sigmoid")  # one activation everywhere does not apply to a recurrent net


def test_parameter_counts_follow_the_cell_equations():
    # RNN: W (H×C) + U (H×H) + two biases; LSTM: four gates of the same. Head: H + 1.
    c, h = 2, 32
    rnn = cnnlab.create("rnn", in_channels=c, hidden=h)
    lstm = cnnlab.create("lstm", in_channels=c, hidden=h)
    assert sum(p.numel() for p in rnn.parameters()) == (h * c + h * h + 2 * h) + h + 1
    assert sum(p.numel() for p in lstm.parameters()) == 4 * (h * c + h * h + 2 * h) + h + 1
