"""The hostile-peer script (``tests/fuzz/hostile_peer.py``) in a short run.

Malformed and oversized PDUs and truncated associations against the C-STORE
listener: the next caller is served, memory stays bounded, no thread is left
behind and nothing half-written is indexed. The full run (300 rounds, ~2.5
minutes) is ``.venv/bin/python tests/fuzz/hostile_peer.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fuzz import hostile_peer


def test_a_short_hostile_peer_run_passes_every_check(tmp_path: Path, loopback: None) -> None:
    out = tmp_path / "summary.json"
    code = hostile_peer.main(["--rounds", "30", "--seed", "7", "--json", str(out)])
    summary = json.loads(out.read_text())
    assert code == 0, summary["failures"]
    assert summary["failures"] == []
    default_mix = set(hostile_peer.ATTACKS) - set(hostile_peer.KNOWN_BUG_ATTACKS)
    assert set(summary["attacks"]) == default_mix  # each once or twice: 30 rounds, 18 attacks
    assert sum(summary["attacks"].values()) == 30
    assert summary["good_ok"] == summary["good_total"] == 30
    assert summary["good_missing"] == 0 and summary["indexed"] >= 30
    assert summary["part_files"] == [] and summary["indexed_bad"] == []
    assert summary["cut_off_indexed"] == summary["forbidden_indexed"] == 0
    assert summary["not_allowed_accepted"] == 0 and summary["not_allowed_attempts"] == 2
    assert summary["threads_end"] == 0 and summary["threads_after_stop"] == 0
    assert summary["held"] and not summary["held_not_dropped"]
    assert 0 < summary["rss_warm_mb"] <= summary["rss_max_mb"]
    assert summary["rss_growth_mb"] < hostile_peer.RSS_GROWTH_LIMIT_MB
