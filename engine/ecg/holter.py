"""A Holter-style rhythm summary from beat times and beat classes.

A clinician reading a long recording wants the rhythm, not 100,000 beat
labels. Everything here is deterministic arithmetic on the detected beats
(sample indices) and their AAMI classes (``N S V F Q``), with the
conventional definitions written down once:

* **Heart rate**: per-minute mean rate (beats per minute from the RR
  intervals ending in that minute); minimum and maximum are those of the
  per-minute values (with the minute's start), the mean is over every RR.
  Recordings shorter than a minute get one value.
* **Pauses**: an RR interval longer than :data:`PAUSE_S` (2 s). Where the recording has
  other leads, :func:`confirm_pauses` checks each pause on them: a lead that sees the
  pause's two beats and a beat between them makes it a *possible* pause, listed apart (the
  rhythm lead lost its amplitude or was noisy there) and not counted; like an interval
  across missing signal, it makes no heart rate and no brady/tachycardia either.
* **Missing signal**: stretches where the file holds no valid samples
  (WFDB's invalid-sample value) are passed in as gaps. An interval that
  spans a gap is not an RR interval: it makes no pause, and the heart rate
  and the brady/tachycardia episodes leave it out.
* **Bradycardia / tachycardia**: the rate averaged over :data:`RATE_BEATS`
  consecutive intervals below :data:`BRADY_BPM` (50) or above
  :data:`TACHY_BPM` (100) for at least :data:`EPISODE_MIN_S` (10 s).
* **Ectopy** (V and S separately): count, burden (share of all beats),
  couplets (exactly two in a row), runs (three or more in a row: count,
  longest, fastest), bigeminy (an ectopic beat after every normal beat,
  for at least :data:`PATTERN_MIN_CYCLES` cycles in a row) and trigeminy
  (one ectopic beat after every two normal beats, as long).
* **Episodes** of a rhythm from a rhythm model (atrial fibrillation) are
  passed in; their burden is their total duration over the analysed time.
  A rhythm model decides on windows of :data:`WINDOW_S` every
  :data:`STEP_S` (:func:`window_starts`); :func:`window_episodes` turns the
  windows' decisions into episodes.

Times are seconds from the start of the recording.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.ecg.qrs import detect_qrs
from engine.errors import SignalError

PAUSE_S = 2.0
BRADY_BPM = 50.0
TACHY_BPM = 100.0
RATE_BEATS = 8
EPISODE_MIN_S = 10.0
PATTERN_MIN_CYCLES = 3
#: Rhythm windows: length, step, and the shortest episode (also the longest gap bridged).
WINDOW_S, STEP_S, MIN_EPISODE_S = 30.0, 10.0, 30.0
#: Pause confirmation on the other leads (docs/experiments/rhythm-af-plan.md, "A pause must be
#: seen on every lead that sees its beats"): the stretch read around a pause, how close a
#: lead's detection must lie to each of the pause's two beats for the lead to see them, and
#: the margin after the first and before the second inside which a detection is another beat.
CONFIRM_CONTEXT_S, CONFIRM_MATCH_S, CONFIRM_MARGIN_S = 5.0, 0.15, 0.25
#: A lead sees the beats around a pause when it matches at least this share of them and has
#: at most this many detections of its own there per beat (a lead of noise has many).
CONFIRM_AGREEMENT, CONFIRM_EXTRA = 0.8, 0.2
#: The result's warning when pauses were not confirmed (the desktop translates it by this
#: pattern).
PAUSE_WARNING = (
    "{n} possible pause(s) over 2 s on lead {lead} of “{name}” were not confirmed: lead "
    "{other} shows heartbeats in them (the rhythm lead lost its amplitude or was noisy there). "
    "They are listed apart and not counted as pauses; read the trace there."
)


@dataclass(frozen=True)
class Episode:
    """A stretch of the recording with a label (seconds from the start)."""

    label: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "start": round(self.start, 3), "end": round(self.end, 3),
                "duration": round(self.duration, 3)}  # fmt: skip


@dataclass(frozen=True)
class PossiblePause:
    """An interval over :data:`PAUSE_S` on the rhythm lead in which ``seen_on``, another lead
    that sees its two beats, shows a heartbeat."""

    pause: Episode
    seen_on: str

    def to_json(self) -> dict[str, Any]:
        return {**self.pause.to_json(), "label": "possible pause", "beats_on": self.seen_on}


@dataclass(frozen=True)
class Ectopy:
    """Counts and patterns of one ectopic class."""

    label: str
    count: int
    burden: float
    couplets: int
    runs: int
    longest_run: int
    fastest_run_bpm: float | None
    run_episodes: tuple[Episode, ...] = ()
    bigeminy: tuple[Episode, ...] = ()
    trigeminy: tuple[Episode, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "burden": round(self.burden, 5),
            "couplets": self.couplets,
            "runs": self.runs,
            "longest_run": self.longest_run,
            "fastest_run_bpm": None
            if self.fastest_run_bpm is None
            else round(self.fastest_run_bpm, 1),
            "run_episodes": [e.to_json() for e in self.run_episodes],
            "bigeminy": [e.to_json() for e in self.bigeminy],
            "trigeminy": [e.to_json() for e in self.trigeminy],
        }


@dataclass(frozen=True)
class RhythmSummary:
    """The summary of one recording (see the module docstring)."""

    duration_s: float
    beats: int
    heart_rate: dict[str, Any]
    pauses: tuple[Episode, ...]
    bradycardia: tuple[Episode, ...]
    tachycardia: tuple[Episode, ...]
    ectopy: dict[str, Ectopy]
    episodes: tuple[Episode, ...] = ()
    burdens: dict[str, float] = field(default_factory=dict)
    #: Stretches with no valid samples in the file (not analysed).
    gaps: tuple[Episode, ...] = ()
    #: Intervals over 2 s that another lead shows beats in (:func:`confirm_pauses`).
    possible_pauses: tuple[PossiblePause, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "signal_gaps": [e.to_json() for e in self.gaps],
            "duration_s": round(self.duration_s, 3),
            "beats": self.beats,
            "heart_rate": self.heart_rate,
            "pauses": [e.to_json() for e in self.pauses],
            "unconfirmed_pauses": [p.to_json() for p in self.possible_pauses],
            "bradycardia": [e.to_json() for e in self.bradycardia],
            "tachycardia": [e.to_json() for e in self.tachycardia],
            "ectopy": {k: v.to_json() for k, v in self.ectopy.items()},
            "episodes": [e.to_json() for e in self.episodes],
            "burdens": {k: round(v, 5) for k, v in self.burdens.items()},
        }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index pairs of the runs of True in ``mask``."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def heart_rate_trend(
    t: np.ndarray, duration_s: float, bin_s: float = 60.0, across: np.ndarray | None = None
) -> dict[str, Any]:
    """Per-bin mean rate from the RR intervals ending in each bin; min/mean/max with times.

    ``across`` marks the intervals that span missing signal (left out)."""
    keep = np.ones(max(len(t) - 1, 0), dtype=bool) if across is None else ~across
    if not keep.any():
        return {"mean_bpm": None, "min_bpm": None, "max_bpm": None, "min_at": None,
                "max_at": None, "trend": []}  # fmt: skip
    rr = np.diff(t)[keep]
    ends = t[1:][keep]
    n_bins = max(1, int(np.ceil(duration_s / bin_s)))
    idx = np.minimum((ends // bin_s).astype(int), n_bins - 1)
    trend = []
    for b in range(n_bins):
        sel = rr[idx == b]
        trend.append(None if sel.size == 0 else 60.0 / float(sel.mean()))
    known = [(v, b) for b, v in enumerate(trend) if v is not None]
    lo, hi = min(known), max(known)
    return {
        "mean_bpm": round(60.0 / float(rr.mean()), 1),
        "min_bpm": round(lo[0], 1),
        "min_at": lo[1] * bin_s,
        "max_bpm": round(hi[0], 1),
        "max_at": hi[1] * bin_s,
        "bin_s": bin_s,
        "trend": [None if v is None else round(v, 1) for v in trend],
    }


def rate_episodes(
    t: np.ndarray, across: np.ndarray | None = None
) -> tuple[tuple[Episode, ...], tuple[Episode, ...]]:
    """Bradycardia and tachycardia episodes from the :data:`RATE_BEATS`-interval mean rate
    (a window with an interval that spans missing signal, ``across``, is neither)."""
    if len(t) <= RATE_BEATS:
        return (), ()
    rr = np.diff(t)
    if across is not None:
        rr = np.where(across, np.nan, rr)
    kernel = np.ones(RATE_BEATS) / RATE_BEATS
    mean_rr = np.convolve(rr, kernel, mode="valid")  # window k covers rr[k : k + RATE_BEATS]
    with np.errstate(invalid="ignore"):
        bpm = 60.0 / mean_rr
    out: list[tuple[Episode, ...]] = []
    for label, mask in (("bradycardia", bpm < BRADY_BPM), ("tachycardia", bpm > TACHY_BPM)):
        episodes = []
        for a, b in _runs(mask):
            start, end = float(t[a]), float(t[b - 1 + RATE_BEATS])
            if end - start >= EPISODE_MIN_S:
                episodes.append(Episode(label, start, end))
        out.append(tuple(merge_episodes(episodes)))
    return out[0], out[1]


def merge_episodes(episodes: Sequence[Episode], bridge: float = 0.0) -> list[Episode]:
    """Episodes in time order, those that overlap or touch joined, and also those separated
    by a gap shorter than ``bridge`` seconds."""
    merged: list[Episode] = []
    for e in sorted(episodes, key=lambda e: e.start):
        if merged and (e.start <= merged[-1].end or e.start - merged[-1].end < bridge):
            merged[-1] = Episode(e.label, merged[-1].start, max(merged[-1].end, e.end))
        else:
            merged.append(e)
    return merged


def _pattern(is_x: np.ndarray, t: np.ndarray, period: int, label: str) -> tuple[Episode, ...]:
    """Stretches where every ``period``-th beat is ectopic and the others are not."""
    n = len(is_x)
    episodes = []
    for phase in range(period):
        # cycle c covers beats [phase + c*period, phase + (c+1)*period): ectopic last.
        cycles = (n - phase) // period
        if cycles <= 0:
            continue
        block = is_x[phase : phase + cycles * period].reshape(cycles, period)
        ok = block[:, -1] & ~block[:, :-1].any(axis=1)
        for a, b in _runs(ok):
            if b - a >= PATTERN_MIN_CYCLES:
                first = phase + a * period
                last = phase + b * period - 1
                episodes.append(Episode(label, float(t[first]), float(t[last])))
    return tuple(merge_episodes(episodes))


def ectopy(labels: np.ndarray, t: np.ndarray, label: str) -> Ectopy:
    """Counts, couplets, runs, bigeminy and trigeminy of the beats labelled ``label``."""
    is_x = labels == label
    count = int(is_x.sum())
    couplets = runs = longest = 0
    fastest: float | None = None
    run_episodes = []
    for a, b in _runs(is_x):
        length = b - a
        longest = max(longest, length)
        if length == 2:
            couplets += 1
        elif length >= 3:
            runs += 1
            bpm = 60.0 * (length - 1) / float(t[b - 1] - t[a]) if t[b - 1] > t[a] else None
            if bpm is not None:
                fastest = bpm if fastest is None else max(fastest, bpm)
            run_episodes.append(Episode(f"{label} run", float(t[a]), float(t[b - 1])))
    return Ectopy(
        label=label,
        count=count,
        burden=count / len(labels) if len(labels) else 0.0,
        couplets=couplets,
        runs=runs,
        longest_run=longest,
        fastest_run_bpm=fastest,
        run_episodes=tuple(run_episodes),
        bigeminy=_pattern(is_x, t, 2, f"{label} bigeminy"),
        trigeminy=_pattern(is_x, t, 3, f"{label} trigeminy"),
    )


def summarise(
    samples: np.ndarray,
    labels: Sequence[str],
    fs: float,
    n_samples: int,
    episodes: Sequence[Episode] = (),
    gaps: Sequence[tuple[float, float]] = (),
    possible_pauses: Sequence[PossiblePause] = (),
) -> RhythmSummary:
    """The rhythm summary of one recording.

    ``samples``: the detected beats (sample indices, increasing);
    ``labels``: their classes; ``episodes``: rhythm episodes from a rhythm
    model (their burden is reported per label); ``gaps``: ``(start_s, end_s)``
    stretches with no valid signal in the file; ``possible_pauses``: intervals
    another lead shows beats in (:func:`confirm_pauses`), which, like an interval
    across a gap, make no pause, no heart rate and no brady/tachycardia.
    """
    t = np.asarray(samples, dtype=np.float64) / float(fs)
    lab = np.asarray(labels, dtype=object)
    if len(t) != len(lab):
        raise ValueError("one label per beat is needed")
    duration = float(n_samples) / float(fs)
    rr = np.diff(t)
    missing = tuple(Episode("signal missing", float(a), float(b)) for a, b in gaps)
    across = np.zeros(len(rr), dtype=bool)
    for g in missing:  # the interval (t[i], t[i+1]) overlaps the gap
        across |= (t[:-1] < g.end) & (t[1:] > g.start)
    for p in possible_pauses:  # the interval is the possible pause
        across |= (t[:-1] < p.pause.end) & (t[1:] > p.pause.start)
    pauses = tuple(
        Episode("pause", float(t[i]), float(t[i + 1]))
        for i in np.flatnonzero((rr > PAUSE_S) & ~across)
    )
    brady, tachy = rate_episodes(t, across)
    burdens: dict[str, float] = {}
    for e in episodes:
        burdens[e.label] = burdens.get(e.label, 0.0) + e.duration / duration if duration else 0.0
    return RhythmSummary(
        duration_s=duration,
        beats=len(t),
        heart_rate=heart_rate_trend(t, duration, across=across),
        pauses=pauses,
        bradycardia=brady,
        tachycardia=tachy,
        ectopy={k: ectopy(lab, t, k) for k in ("V", "S")},
        episodes=tuple(sorted(episodes, key=lambda e: e.start)),
        burdens=burdens,
        gaps=missing,
        possible_pauses=tuple(possible_pauses),
    )


def _nearest(x: np.ndarray, to: np.ndarray) -> np.ndarray:
    """For each of ``x``, the distance to the nearest of ``to`` (sorted, not empty)."""
    i = np.clip(np.searchsorted(to, x), 1, len(to) - 1) if len(to) > 1 else np.zeros(len(x), int)
    left, right = to[np.maximum(i - 1, 0)], to[i]
    return np.minimum(np.abs(x - left), np.abs(x - right))


def _beat_between(found: np.ndarray, around: np.ndarray, a: int, b: int, fs: float) -> bool:
    """Whether a lead with detections ``found`` sees the rhythm lead's beats ``around`` the
    pause ``a``–``b`` (both bounding beats, at least 80 % of the others, and few detections
    of its own besides: a lead of noise does not) and has a detection between them."""
    match, margin = round(CONFIRM_MATCH_S * fs), round(CONFIRM_MARGIN_S * fs)
    if found.size == 0 or around.size == 0:
        return False
    hit = _nearest(around, found) <= match
    ends = np.isin(around, [a, b])
    outside = found[(found <= a + match) | (found >= b - match)]
    extra = int((_nearest(outside, around) > match).sum())
    sees = (
        bool(hit[ends].all())
        and hit.mean() >= CONFIRM_AGREEMENT
        and extra <= CONFIRM_EXTRA * len(around)
    )
    return sees and bool(((found > a + margin) & (found < b - margin)).any())


def confirm_pauses(
    summary: RhythmSummary,
    samples: np.ndarray,
    read: Callable[[int, int], np.ndarray],
    leads: Sequence[str],
    fs: float,
) -> tuple[PossiblePause, ...]:
    """The pauses of ``summary`` (of the beats ``samples``) that the other leads contradict.

    ``read(start, stop)`` returns those samples of the other ``leads`` (one row each, mV);
    only the seconds around each pause are read. A lead whose QRS detections there agree
    with the beats around the pause *sees* them; if it also has a detection between the
    pause's two beats, the pause is a :class:`PossiblePause` (the first such lead is named),
    which :func:`summarise` then keeps out of the pauses and the rate. Without another lead,
    or where no lead sees the beats, a pause stays a pause.
    """
    if not leads:
        return ()
    context = round(CONFIRM_CONTEXT_S * fs)
    samples = np.asarray(samples, dtype=np.int64)
    n_samples = round(summary.duration_s * fs)
    possible: list[PossiblePause] = []
    for pause in summary.pauses:
        a, b = round(pause.start * fs), round(pause.end * fs)
        lo, hi = max(0, a - context), min(n_samples, b + context)
        around = samples[(samples >= lo) & (samples < hi) & ((samples <= a) | (samples >= b))]
        block = np.asarray(read(lo, hi), dtype=np.float64).reshape(len(leads), -1)
        seen_on = ""
        for name, y in zip(leads, block, strict=True):
            try:
                found = detect_qrs(y, fs) + lo
            except SignalError:
                continue
            if _beat_between(found, around, a, b, fs):
                seen_on = name
                break
        if seen_on:
            possible.append(PossiblePause(pause, seen_on))
    return tuple(possible)


def pause_warning(possible: Sequence[PossiblePause], lead: str, name: str) -> str | None:
    """:data:`PAUSE_WARNING` for the ``possible`` pauses (none: ``None``)."""
    if not possible:
        return None
    others = ", ".join(dict.fromkeys(p.seen_on for p in possible))
    return PAUSE_WARNING.format(n=len(possible), lead=lead, name=name, other=others)


def window_starts(n_samples: int, fs: float, window_s: float = WINDOW_S,
                  step_s: float = STEP_S) -> np.ndarray:  # fmt: skip
    """Start samples of the ``window_s`` windows every ``step_s`` (the last flush with the end)."""
    win, step = round(window_s * fs), round(step_s * fs)
    if n_samples <= win:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - win + 1, step)
    if starts[-1] + win < n_samples:
        starts = np.append(starts, n_samples - win)
    return starts.astype(np.int64)


def window_episodes(
    starts: np.ndarray, positive: np.ndarray, fs: float, n_samples: int, label: str = "AF", *,
    window_s: float = WINDOW_S, step_s: float = STEP_S, min_episode_s: float = MIN_EPISODE_S,
) -> list[Episode]:  # fmt: skip
    """Episodes (seconds) from window decisions.

    Each positive window marks its middle ``step_s`` (the first and last
    windows their outer parts too); marks closer than ``min_episode_s`` are
    joined; episodes shorter than ``min_episode_s`` are dropped.
    """
    duration = n_samples / fs
    marks = []
    for k, (s, yes) in enumerate(zip(starts, positive, strict=True)):
        if not yes:
            continue
        mid = s / fs + window_s / 2
        lo, hi = mid - step_s / 2, mid + step_s / 2
        if k == 0:
            lo = 0.0
        if k == len(starts) - 1:
            hi = duration
        marks.append(Episode(label, max(0.0, lo), min(duration, hi)))
    merged = merge_episodes(marks, bridge=min_episode_s)
    return [e for e in merged if e.duration >= min_episode_s]
