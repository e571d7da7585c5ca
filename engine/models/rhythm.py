"""Rhythm models (``sklearn`` on ``signal`` inputs): a rhythm label and a Holter-style report.

A rhythm bundle holds a scikit-learn classifier over the named rhythm
features of :mod:`engine.ecg.rhythm_features` (classes ``normal``, ``AF``,
``other``, ``noisy``). For one recording the runner:

* **short recordings** (up to ``preprocessing.short_max_s``, the length the
  model was trained on): classifies the whole rhythm lead once;
* **long recordings**: classifies windows of ``window_s`` every ``step_s``
  and turns the AF windows into episodes (:func:`engine.ecg.holter.window_episodes`).
  The record is read a stretch (``chunk_s``) at a time, so a 24-hour Holter
  is never held in memory whole (:mod:`engine.ecg.stream`).

The decision rule is the one validated (docs/experiments/rhythm-af-plan.md):
the most probable class, except ``AF`` whenever P(AF) reaches the operating
point's threshold. A long recording's label is ``AF`` when an AF episode was
found, else the class most of its windows were given.

Every beat found on the rhythm lead feeds the report of
:mod:`engine.ecg.holter` (heart-rate trend, pauses, brady-/tachycardia).
Ectopic counts need beat classes: when the workflow attaches the beat model
the bundle names (``companions.ectopy``) as :attr:`RhythmModel.companion`,
each stretch is also classified beat by beat and the ventricular and
supraventricular ectopy (counts, burden, couplets, runs, bigeminy,
trigeminy) is reported, with the beat model's id and version; without it,
or when the beat model refuses the record (a lead it was not made for), the
report says the ectopy was not counted and why.

Explanation: which features drove the AF probability (each feature in turn
set to the training records' median, the change of P(AF) is its
contribution), on the record or on its most AF-like window; that window's
RR intervals that changed by over 10 % of its median RR
(``rhythm["explanation"]``), so a viewer can mark the irregular stretches
on the strip; and P(AF) of every window (``rhythm["windows"]``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.ecg import detect_qrs
from engine.ecg.holter import (
    Episode,
    confirm_pauses,
    pause_warning,
    summarise,
    window_episodes,
    window_starts,
)
from engine.ecg.quality import (
    NOISY_RHYTHM_WARNING,
    RHYTHM_NOISE_WARNING,
    gap_warning,
    no_beats_error,
)
from engine.ecg.rhythm_features import (
    FEATURE_LABELS,
    FEATURES,
    RR_CHANGE_SHARE,
    irregular_rr,
    window_features,
)
from engine.ecg.signal import merge_spans
from engine.ecg.stream import SignalStream, as_stream
from engine.errors import EngineError, InputRejectedError, ModelError, SignalError
from engine.models.beat_inputs import ArraySignal, as_signal
from engine.models.bundle import RHYTHM_TASK, Bundle
from engine.models.gates import check_gates, signal_gate_values
from engine.models.outputs import build_prediction
from engine.models.results import BeatResult, Contribution, Prediction
from engine.models.runtime import Runner, RunnerBase, RunRequest
from engine.models.site import SitePlan
from engine.models.skops_io import read_skops
from engine.progress import check_cancelled

#: Margin read on each side of a stretch, so beats at its edges are detected with context.
PAD_S = 5.0


@dataclass(frozen=True, eq=False)
class PreparedRhythm:
    """One gated recording, ready to be read stretch by stretch."""

    stream: SignalStream
    lead: int
    name: str
    warnings: tuple[str, ...]
    prepare_ms: float

    @property
    def lead_name(self) -> str:
        return self.stream.leads[self.lead]


@dataclass
class _Scan:
    """What one pass over a recording collects."""

    starts: list[np.ndarray]
    rows: list[np.ndarray]
    beats: list[np.ndarray]
    beat_results: list[BeatResult]
    ectopy_note: str = ""
    companion_ran: bool = False
    #: Seconds (start, end) the beat model's kurtosis check read as noise on the rhythm lead.
    noise_like: list[tuple[float, float]] = field(default_factory=list)
    #: A short recording's one window, ``[start, stop)`` samples: the whole recording, or
    #: its longest stretch with signal where the rhythm lead has gaps.
    stretch: tuple[int, int] | None = None


@dataclass(eq=False)
class RhythmModel(RunnerBase):
    """A rhythm bundle ready to analyse ECG recordings (see the module docstring)."""

    bundle: Bundle
    classifier: Any
    kind: str = "sklearn"
    #: The beat model counting ectopic beats (set by :func:`engine.workflow.load_model`).
    companion: Runner | None = None

    def __post_init__(self) -> None:
        pre = self.bundle.preprocessing
        try:
            features = tuple(str(f) for f in pre["features"])
            self.lead_preference = tuple(str(v) for v in pre["lead_preference"])
            self.short_max_s = float(pre["short_max_s"])
            self.window_s = float(pre["window_s"])
            self.step_s = float(pre["step_s"])
            self.min_episode_s = float(pre["min_episode_s"])
            self.chunk_s = float(pre.get("chunk_s", 600.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"Model “{self.bundle.id}” declares a rhythm preprocessing Stethos cannot use.",
                repr(exc),
            ) from exc
        if features != FEATURES:
            raise ModelError(
                f"Model “{self.bundle.id}” was trained on rhythm features this Stethos does not "
                "compute (another feature list or order). Use a bundle built for this version.",
            )
        if tuple(self.bundle.labels) != ("normal", "AF", "other", "noisy"):
            raise ModelError(f"Model “{self.bundle.id}” has labels a rhythm model cannot have.")
        steps = self.chunk_s / self.step_s
        if self.chunk_s <= 0 or abs(steps - round(steps)) > 1e-9:
            raise ModelError(f"Model “{self.bundle.id}”: chunk_s must be a multiple of step_s.")
        background = self.bundle.explanation.get("background", {})
        self.background = np.array(
            [float(background.get(f, math.nan)) for f in FEATURES], dtype=np.float64
        )
        self.af = self.bundle.labels.index("AF")

    @property
    def device(self) -> str:
        return "cpu"

    # ------------------------------------------------------------------ prepare

    def prepare(
        self, source: Any, *, fs: float | None = None, leads: Sequence[str] | None = None
    ) -> PreparedRhythm:
        """Gate one recording: a path (read later by stretches), a Signal or an array with ``fs``.

        Raises
        ------
        InputRejectedError
            A sampling rate, lead or duration the model does not take.
        SignalError
            An unreadable file.
        """
        start = time.perf_counter()
        if isinstance(source, np.ndarray):
            source = as_signal(source, fs, leads)
        stream = as_stream(source)
        name = stream.name or "the ECG"
        values = signal_gate_values(stream)
        warnings = check_gates(self.bundle.gates, values, input_name=name, model_id=self.bundle.id)
        upper = [lead.upper() for lead in stream.leads]
        lead = next(
            (upper.index(w.upper()) for w in self.lead_preference if w.upper() in upper), None
        )
        if lead is None and not values["leads"]:
            lead = 0  # no lead is named (the gate warned): the first, as a handheld's one lead
        if lead is None:
            raise InputRejectedError(
                f"“{name}” was not analysed by model “{self.bundle.id}”: it has none of the "
                f"leads {', '.join(self.lead_preference)}."
            )
        return PreparedRhythm(stream, lead, name, warnings, (time.perf_counter() - start) * 1000)

    # ------------------------------------------------------------------ run

    def _proba(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.classifier.predict_proba(rows), dtype=np.float64)

    def _decide(self, p: np.ndarray, threshold: float) -> np.ndarray:
        out = np.argmax(p, axis=1)
        out[p[:, self.af] >= threshold] = self.af
        return out

    def _companion_beats(
        self,
        scan: _Scan,
        data: np.ndarray,
        leads: tuple[str, ...],
        fs: float,
        beats: np.ndarray,
        offset: int,
        core: tuple[int, int],
    ) -> None:
        """Classify the beats of one stretch with the beat model; keep those in ``core``."""
        if self.companion is None or scan.ectopy_note:
            return
        chunk = ArraySignal(data, fs, leads)
        taken = self.companion.bundle.manifest.get("inputs", {}).get("signal", {}).get("leads", [])
        rhythm_lead_taken = any(str(t).upper() == leads[0].upper() for t in taken)
        try:
            pred = self.companion.predict(
                chunk, explain=False, beats=beats if rhythm_lead_taken and len(beats) else None
            )
        except InputRejectedError as exc:
            companion = self.companion.bundle.id
            if not any(str(t).upper() in {lead.upper() for lead in leads} for t in taken):
                scan.ectopy_note = (
                    f"Ectopic beats were not counted: the beat model “{companion}” reads lead "
                    f"{' or '.join(str(t) for t in taken)}, and this recording has "
                    f"{', '.join(leads)}."
                )
            else:
                scan.ectopy_note = (
                    f"Ectopic beats were not counted: the beat model “{companion}” does not "
                    f"take this recording ({exc.user_message})"
                )
            return
        scan.companion_ran = True
        lo, hi = core
        if rhythm_lead_taken:  # its check of noise was on the rhythm lead: keep the core's part
            for a, b in (pred.extra.get("signal_quality") or {}).get("noise_like_s", []):
                s0, s1 = max(lo, offset + a * fs), min(hi, offset + b * fs)
                if s1 > s0:
                    scan.noise_like.append((s0 / fs, s1 / fs))
        for b in pred.beats:
            s = b.sample + offset
            if lo <= s < hi:
                scan.beat_results.append(BeatResult(s, b.label, b.probabilities))

    def _scan(self, item: PreparedRhythm, req: RunRequest, digest: Any) -> _Scan:
        """One pass over the recording by stretches: window features, beats, beat classes."""
        stream, fs, n = item.stream, float(item.stream.fs), item.stream.n_samples
        scan = _Scan([], [], [], [])
        short = n <= round(self.short_max_s * fs)
        win = n if short else round(self.window_s * fs)
        starts = (
            np.zeros(1, dtype=np.int64)
            if short
            else window_starts(n, fs, self.window_s, self.step_s)
        )
        chunk = n if short else round(self.chunk_s * fs)
        pad = round(PAD_S * fs)
        # The rhythm lead first: the beat model sees the stretch with the lead order it knows.
        order = [item.lead, *[i for i in range(len(stream.leads)) if i != item.lead]]
        leads = tuple(stream.leads[i] for i in order)
        with ThreadPoolExecutor(1, thread_name_prefix="stethos-ectopy") as pool:
            for c0 in range(0, n, chunk):
                check_cancelled(req.cancel)
                req.progress(0.05 + 0.9 * c0 / max(n, 1), f"Analysing {c0 / fs / 60:.0f} min")
                c1 = min(n, c0 + chunk)
                r0, r1 = max(0, c0 - pad), min(n, c1 + (0 if short else win) + pad)
                data = np.asarray(stream.read(r0, r1))[order]
                x = np.asarray(data[0], dtype=np.float64)
                digest.update(np.ascontiguousarray(data[0][c0 - r0 : c1 - r0]).data)
                try:
                    found = detect_qrs(x, fs)
                except SignalError as exc:
                    raise InputRejectedError(
                        f"“{item.name}” was not analysed by model “{self.bundle.id}”: "
                        f"{exc.user_message}"
                    ) from exc
                here = found + r0
                scan.beats.append(here[(here >= c0) & (here < c1)])
                if short:  # the gaps are known once the recording has been read
                    a, b = self._short_stretch(item, n, fs)
                    scan.stretch, starts, win = (a, b), np.array([a], dtype=np.int64), b - a
                mine = starts[(starts >= c0) & (starts < c1)]
                # The beat model (ONNX Runtime, which lets go of the interpreter) classifies the
                # stretch's beats on a second thread while this one computes its windows.
                beats_done = pool.submit(
                    self._companion_beats, scan, data, leads, fs, found, r0, (c0, c1)
                )
                try:
                    scan.rows.extend(window_features(x, fs, found, mine - r0, win))
                    scan.starts.append(mine)
                except BaseException:
                    wait([beats_done])
                    raise
                beats_done.result()  # stretch by stretch, in order; its errors are raised here
        return scan

    def _short_stretch(self, item: PreparedRhythm, n: int, fs: float) -> tuple[int, int]:
        """The stretch a short recording's one window reads: all of it, or where its rhythm lead
        holds no signal somewhere, the longest stretch between the gaps (a filled-in gap would
        be read as a pause and a flat line: 5 s missing turned normal rhythm into "other")."""
        gaps = item.stream.gaps(item.lead)
        if not gaps:
            return 0, n
        edges = [0]
        for a, b in gaps:
            edges += [max(0, round(a * fs)), min(n, round(b * fs))]
        edges.append(n)
        free = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
        a, b = max(free, key=lambda ab: ab[1] - ab[0])
        gate = self.bundle.gates.get("duration_s", {})
        least = float(gate.get("min", 0.0)) if isinstance(gate, dict) else 0.0
        if (b - a) / fs < least:
            held = (
                f"holds signal for at most {(b - a) / fs:.1f} s between its gaps, below the "
                f"model's minimum of {least:g} s"
                if b > a
                else "holds no signal (missing samples or a perfectly flat line)"
            )
            raise InputRejectedError(
                f"“{item.name}” was not analysed by model “{self.bundle.id}”: lead "
                f"{item.lead_name} {held}."
            )
        return a, b

    def _contributions(self, row: np.ndarray, p_af: float) -> tuple[Contribution, ...]:
        """Each feature's effect on P(AF): P(AF) minus P(AF) with it set to the training median."""
        if not np.isfinite(self.background).any():
            return ()
        ablated = np.repeat(row[None, :], len(FEATURES), axis=0)
        ablated[np.arange(len(FEATURES)), np.arange(len(FEATURES))] = self.background
        p = self._proba(ablated)[:, self.af]
        out = []
        for i, name in enumerate(FEATURES):
            label, unit = FEATURE_LABELS.get(name, (name, ""))
            v = float(row[i])
            value = "not measurable" if not math.isfinite(v) else f"{v:.3g}"
            out.append(
                Contribution(
                    name,
                    label,
                    value,
                    float(p_af - p[i]),
                    unit,
                    float(f"{v:.3g}") if math.isfinite(v) else None,
                    missing=not math.isfinite(v),
                )
            )
        return tuple(sorted(out, key=lambda c: -abs(c.contribution)))

    @staticmethod
    def _explained_window(beats: np.ndarray, start: int, stop: int, fs: float) -> dict[str, Any]:
        """The stretch ``[start, stop)`` the contributions explain, and its irregular RR intervals.

        Each of ``irregular_rr`` is ``[start_s, end_s, change]``: an RR interval whose
        length changed from the previous one by more than 10 % of the window's
        median RR (``change`` is signed, in median RRs), the intervals the
        feature "Share of RR changes over 10 %" counts.
        """
        rows, changes = irregular_rr(beats[(beats >= start) & (beats < stop)], fs)
        return {
            "start": round(start / fs, 3),
            "end": round(stop / fs, 3),
            "rr_change_share": RR_CHANGE_SHARE,
            "rr_changes": changes,
            "irregular_rr": [
                [round(a / fs, 3), round(b / fs, 3), round(float(c), 3)] for a, b, c in rows
            ],
        }

    def _with_site(self, plan: SitePlan, pred: Prediction) -> Prediction:
        """The site calibration, and every window's P(AF) on the scale of its threshold."""
        pred = plan.apply(pred)
        rhythm = pred.extra["rhythm"]
        windows = rhythm["windows"]
        p_af = [round(plan.site.apply(float(v)), 4) for v in windows["p_af"]]
        extra = {**pred.extra, "rhythm": {**rhythm, "windows": {**windows, "p_af": p_af}}}
        return replace(pred, extra=extra)

    def _run(self, items: list[PreparedRhythm], req: RunRequest) -> list[Prediction]:
        return [self._run_one(item, req) for item in items]

    def _run_one(self, item: PreparedRhythm, req: RunRequest) -> Prediction:
        started = time.perf_counter()
        fs, n = float(item.stream.fs), item.stream.n_samples
        op = req.op
        digest = hashlib.sha256()
        scan = self._scan(item, req, digest)
        starts = np.concatenate(scan.starts).astype(np.int64)
        rows = np.asarray(scan.rows, dtype=np.float64).reshape(len(starts), len(FEATURES))
        beats = np.concatenate(scan.beats).astype(np.int64)
        if not len(beats):  # no rhythm to read (the classifier would still name one)
            raise no_beats_error(item.name, item.lead_name, n / fs, self.bundle.id)
        req.progress(0.95, "Writing the rhythm report")
        p = self._proba(rows)
        decided = self._decide(p, op.threshold)
        labels = self.bundle.labels
        short = len(starts) == 1 and n <= round(self.short_max_s * fs)
        gaps = item.stream.gaps(item.lead)
        # Windows that hold a stretch without signal read a straight line as ECG: in a long
        # recording they are left out of the rhythm decision (a short one has only its one).
        t0 = starts / fs
        in_gap = np.array(
            [any(a < t + self.window_s and b > t for a, b in gaps) for t in t0], dtype=bool
        )
        use = ~in_gap if (not short and in_gap.any() and not in_gap.all()) else np.ones_like(in_gap)
        first, last = scan.stretch if short and scan.stretch else (0, n)
        if short:
            episodes = [Episode("AF", first / fs, last / fs)] if decided[0] == self.af else []
            probabilities = p[0]
            record = labels[int(decided[0])]
        else:
            found = window_episodes(
                starts,
                (decided == self.af) & use,
                fs,
                n,
                "AF",
                window_s=self.window_s,
                step_s=self.step_s,
                min_episode_s=self.min_episode_s,
            )
            episodes = found
            probabilities = p[use].mean(axis=0)
            counts = np.bincount(decided[(decided != self.af) & use], minlength=len(labels))
            record = "AF" if episodes else labels[int(np.argmax(counts))]
        # Contributions are always computed (22 extra rows), as for record models.
        top = int(np.argmax(np.where(use, p[:, self.af], -1.0)))
        contributions = self._contributions(rows[top], float(p[top, self.af]))
        start = int(starts[top])
        stop = last if short else start + round(self.window_s * fs)
        explained = self._explained_window(beats, start, stop, fs)
        if scan.companion_ran:
            samples = np.array([b.sample for b in scan.beat_results], dtype=np.int64)
            beat_labels = [b.label for b in scan.beat_results]
        else:
            samples, beat_labels = beats, ["?"] * len(beats)
        # Each pause is checked on the recording's other leads, read back around it; one they
        # fill with beats is no RR interval (no pause, rate or brady/tachycardia).
        others = [i for i in range(len(item.stream.leads)) if i != item.lead]
        report = summarise(samples, beat_labels, fs, n, episodes, gaps)
        possible = confirm_pauses(
            report,
            samples,
            lambda lo, hi: np.asarray(item.stream.read(lo, hi))[others],
            [item.stream.leads[i] or f"#{i + 1}" for i in others],  # (unnamed: by number)
            fs,
        )
        if possible:
            report = summarise(samples, beat_labels, fs, n, episodes, gaps, possible)
        summary = report.to_json()
        noise = merge_spans(scan.noise_like)
        rhythm: dict[str, Any] = {
            "analysed_s": round(n / fs, 3),
            "lead": item.lead_name,
            "af_burden": round(summary["burdens"].get("AF", 0.0), 5),
            "episodes": summary["episodes"],
            "heart_rate": summary["heart_rate"],
            "beats": summary["beats"],
            "pauses": summary["pauses"],
            "unconfirmed_pauses": summary["unconfirmed_pauses"],
            "signal_gaps": summary["signal_gaps"],
            # where the beat model's kurtosis check read the rhythm lead as noise (seconds)
            "noise_like": [[round(a, 1), round(b, 1)] for a, b in noise],
            "bradycardia": summary["bradycardia"],
            "tachycardia": summary["tachycardia"],
            "ectopy": summary["ectopy"] if scan.companion_ran else None,
            "ectopy_model": (
                {"id": self.companion.bundle.id, "version": self.companion.bundle.version}
                if scan.companion_ran and self.companion is not None
                else None
            ),
            "explanation": explained,
            "windows": {
                "window_s": round((last - first) / fs if short else self.window_s, 3),
                "starts_s": [round(float(s) / fs, 3) for s in starts],
                "p_af": [round(float(v), 4) for v in p[:, self.af]],
                "labels": [labels[int(d)] for d in decided],
                # left out of the rhythm decision: they hold a stretch without signal
                "excluded": [bool(not u) for u in use],
            },
        }
        notes = []
        warnings = item.warnings
        if (first, last) != (0, n):
            notes.append(
                f"Lead {item.lead_name} holds no signal in places: the rhythm was read on its "
                f"longest stretch with signal, {first / fs:.1f}–{last / fs:.1f} s."
            )
        if not use.all():
            notes.append(
                f"{int((~use).sum())} of {len(use)} {self.window_s:g}-s windows hold a stretch "
                "without signal and were left out of the rhythm decision."
            )
        if gaps:
            warnings = (*warnings, gap_warning(gaps, item.lead_name, item.name))
        if record == "noisy":
            warnings = (*warnings, NOISY_RHYTHM_WARNING.format(model=self.bundle.id,
                                                               name=item.name))  # fmt: skip
        if noise:
            seconds = sum(b - a for a, b in noise)
            warnings = (*warnings, RHYTHM_NOISE_WARNING.format(
                seconds=seconds, share=seconds / (n / fs), lead=item.lead_name, name=item.name))  # fmt: skip
        unconfirmed = pause_warning(possible, item.lead_name, item.name)
        if unconfirmed:
            warnings = (*warnings, unconfirmed)
        if not scan.companion_ran:
            rhythm["ectopy_note"] = scan.ectopy_note or (
                "Ectopic beats were not counted: no beat model was run with this rhythm model."
            )
            notes.append(rhythm["ectopy_note"])
        extra: dict[str, Any] = {
            "rhythm": rhythm,
            "rhythm_label": record,
            "lead": item.lead_name,
            "fs_source": fs,
            "input_name": item.name,
            "contribution_units": "change in P(AF)",
            "timing_ms": {
                "prepare": round(item.prepare_ms, 3),
                "model": round((time.perf_counter() - started) * 1000, 3),
            },
        }
        if notes:
            extra["notes"] = notes
        req.progress(1.0, "Rhythm report ready")
        return build_prediction(
            self.bundle,
            probabilities,
            op=op,
            label=record,
            device=self.device,
            elapsed_ms=item.prepare_ms + (time.perf_counter() - started) * 1000,
            input_hash=digest.hexdigest(),
            contributions=contributions,
            extra=extra,
            beats=tuple(scan.beat_results),
            warnings=warnings,
        )

    def predict(self, source: Any, **options: Any) -> Prediction:
        """Prepare and run one recording (options: ``fs``, ``leads`` and those of ``run``)."""
        run_keys = {"explain", "operating_point", "cancel", "progress"}
        run_opts = {k: v for k, v in options.items() if k in run_keys}
        options.pop("method", None)
        prep = {k: v for k, v in options.items() if k not in run_keys and k != "beats"}
        check_cancelled(run_opts.get("cancel"))
        item = self.prepare(source, **prep)
        (pred,) = self.run([item], **run_opts)
        return pred


def load_rhythm(bundle: Bundle) -> RhythmModel:
    """Load a verified rhythm bundle (its classifier through skops' trusted-types check)."""
    if bundle.input_type != "signal" or bundle.task != RHYTHM_TASK:
        raise ModelError(f"Model “{bundle.id}” is not a rhythm model.")
    try:
        return RhythmModel(bundle=bundle, classifier=read_skops(bundle))
    except EngineError:
        raise
    except Exception as exc:
        raise ModelError(f"Model “{bundle.id}” cannot be loaded.", repr(exc)) from exc
