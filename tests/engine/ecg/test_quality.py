"""kSQI: which 10-s stretches of a trace look like noise rather than heartbeats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.ecg.quality import KURTOSIS_BOUND, noise_stretches
from tests.engine.models.factory import synthetic_ecg


def test_clean_beats_pass_and_noise_or_a_flat_line_do_not() -> None:
    x, _ = synthetic_ecg(60.0, fs=180.0)
    clean = noise_stretches(x - np.median(x), 180.0)
    assert clean.stretches == 6 and clean.noisy == ()
    noise = noise_stretches(np.random.default_rng(1).normal(0, 1, 180 * 60), 180.0)
    assert len(noise.noisy) == noise.stretches == 6 and noise.share == 1.0
    flat = noise_stretches(np.zeros(180 * 25), 180.0)
    assert flat.noisy == ((0.0, 10.0), (10.0, 20.0), (20.0, 25.0))  # a 5-s tail counts


def test_only_the_noisy_stretch_is_named_with_its_times() -> None:
    x, _ = synthetic_ecg(30.0, fs=180.0)
    x = x - np.median(x)
    x[1800:3600] = np.random.default_rng(2).normal(0, 0.5, 1800)  # 10–20 s: lead off
    q = noise_stretches(x, 180.0)
    assert q.noisy == ((10.0, 20.0),)
    out = q.to_json()
    assert out["noise_like_s"] == [[10.0, 20.0]] and out["bound"] == KURTOSIS_BOUND
    assert out["share"] == pytest.approx(1 / 3, abs=1e-4)


def test_a_stretch_mostly_in_a_gap_of_the_file_is_not_judged() -> None:
    x, _ = synthetic_ecg(40.0, fs=180.0)
    x = x - np.median(x)
    x[180 * 4 : 180 * 26] = 0.0  # the file held no sample for 4–26 s: filled in flat
    gaps = ((4.0, 26.0),)
    q = noise_stretches(x, 180.0, gaps)
    # 0–10 s and 20–30 s lie 6 s in the gap, 10–20 s wholly: only 30–40 s is judged
    assert q.stretches == 1 and q.noisy == ()
    assert (10.0, 20.0) in noise_stretches(x, 180.0).noisy  # the flat fill, judged, is "noise"
    part = noise_stretches(x, 180.0, ((4.0, 8.0),))  # a 4-s gap: the stretch is still judged
    assert part.stretches == 4


def test_the_beat_model_warns_on_a_noise_trace_and_not_on_a_clean_record(
    tmp_path: Path, shared_data: Path, capsys
) -> None:
    import wfdb

    from engine.cli import main

    wfdb.wrsamp("noise", fs=360, units=["mV"], sig_name=["MLII"], fmt=["16"],
                p_signal=np.random.default_rng(0).normal(0, 1, (3600 * 3, 1)),
                write_dir=str(tmp_path))  # fmt: skip
    record = shared_data / "ecg" / "mitdb" / "119"
    if not record.with_suffix(".hea").is_file():
        pytest.skip("MIT-BIH record 119 not in the shared data")
    main(["predict", "--model", "ecg-beats-bilstm-360", "--json",
          str(tmp_path / "noise.hea"), str(record.with_suffix(".hea"))])  # fmt: skip
    noise, clean = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert noise["signal_quality"]["noise_like"] == noise["signal_quality"]["stretches"] == 3
    assert any("looks like noise" in w for w in noise["warnings"])
    assert clean["signal_quality"]["noise_like"] == 0
    assert not any("looks like noise" in w for w in clean.get("warnings", []))
