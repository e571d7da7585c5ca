"""The sixth change's pieces: seeded acquisition variants, the D/E split and the rule."""

from __future__ import annotations

import numpy as np

from engine.train.cxr_augment import acquisition_jitter_u8
from engine.train.cxr_domain import TUNE_SET
from engine.train.cxr_domain_refit import D_SET, HALF_B, decide


def _image() -> np.ndarray:
    yy, xx = np.mgrid[:224, :224]
    return np.clip(255 - np.hypot(yy - 112, xx - 112), 0, 255).astype(np.uint8)


def test_acquisition_variants_are_seeded_and_keep_shape_and_type() -> None:
    a = acquisition_jitter_u8(_image(), np.random.default_rng(3))
    b = acquisition_jitter_u8(_image(), np.random.default_rng(3))
    c = acquisition_jitter_u8(_image(), np.random.default_rng(4))
    assert a.shape == (224, 224) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _outcome(d: float, tune: float = 0.05, half_b: float = 1.0) -> dict:
    return {"sets": {D_SET: {"share": d}, TUNE_SET: {"share": tune}, HALF_B: {"share": half_b}}}


def test_the_rule_needs_three_points_on_d_tuning_within_five_and_half_b() -> None:
    assert decide(_outcome(0.80), _outcome(0.83))["adopted"]
    assert not decide(_outcome(0.80), _outcome(0.82))["adopted"]
    assert not decide(_outcome(0.80), _outcome(0.90, tune=0.06))["adopted"]
    assert not decide(_outcome(0.80), _outcome(0.90, half_b=0.94))["adopted"]
