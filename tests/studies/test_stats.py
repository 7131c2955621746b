"""The statistics behind every verdict, against scipy's Student-t."""

import math

import numpy as np
import pytest
from scipy import stats as sp

from cnnlab.studies.stats import NEGATIVE, NEGLIGIBLE, POSITIVE, UNCLEAR, effect, interval, mean_std, paired, t975


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 29, 30, 31, 40, 60, 120, 1000])
def test_t_quantile_matches_scipy(df):
    assert t975(df) == pytest.approx(sp.t.ppf(0.975, df), abs=1e-4)


def test_interval_matches_scipy_t_interval():
    x = [0.61, 0.58, 0.66, 0.59, 0.71]
    iv = interval(x)
    low, high = sp.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sp.sem(x))
    assert iv.mean == pytest.approx(np.mean(x))
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=1e-5)
    assert iv.n == 5


def test_paired_interval_is_the_interval_of_differences():
    a, b = [3.0, 5.0, 4.0], [1.0, 4.5, 2.0]
    assert paired(a, b) == interval([2.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="same seeds"):
        paired([1.0, 2.0], [1.0])


def test_one_value_or_a_nan_gives_an_unbounded_interval():
    assert interval([0.4]).low == -math.inf and interval([0.4]).high == math.inf
    iv = interval([0.4, math.nan, 0.5])
    assert math.isnan(iv.mean) and iv.low == -math.inf
    assert effect([1.0, math.nan, 1.0], [0.0, 0.0, 0.0], 0.1).direction == UNCLEAR


@pytest.mark.parametrize(
    ("diffs", "direction"),
    [
        ([0.30, 0.32, 0.31], POSITIVE),  # interval above 0, mean ≥ δ
        ([-0.30, -0.32, -0.31], NEGATIVE),
        ([0.01, -0.01, 0.0], NEGLIGIBLE),  # whole interval inside ±δ
        ([0.05, 0.06, 0.055], NEGLIGIBLE),  # clearly positive but too small to matter
        ([0.09, 0.12, 0.11], POSITIVE),  # mean 0.107 ≥ δ, interval 0.069–0.145 above 0
        ([0.3, -0.2, 0.5], UNCLEAR),  # straddles 0 and reaches beyond δ
        ([0.06, 0.10, 0.08], UNCLEAR),  # above 0 but the mean 0.08 < δ and the interval reaches past δ
    ],
)
def test_effect_directions(diffs, direction):
    b = [1.0, 2.0, 3.0]
    a = [x + d for x, d in zip(b, diffs, strict=True)]
    assert effect(a, b, min_effect=0.1).direction == direction


def test_min_effect_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        effect([1.0], [0.0], 0.0)


def test_mean_std_formats_with_sample_std():
    assert mean_std([0.231, 0.219, 0.243], scale=100) == "23.1 ± 1.2"
    assert mean_std([0.5]) == "0.5"
