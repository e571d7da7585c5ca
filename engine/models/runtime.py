"""The runtime every model goes through: load a bundle, prepare inputs, run in batches.

Each model kind has a runner with the same shape:

``prepare(source) -> prepared``
    decode, gate and preprocess one input (CPU work, per input);
``run(prepared_items, explain=..., operating_point=...) -> [Prediction]``
    one batched pass of the model (and its explanation);
``predict(source, ...) -> Prediction``
    both, for one input.

:func:`predict_many` drives any runner over many inputs with progress,
cancellation and per-input errors; :func:`engine.models.loader.load_runner` builds the runner a
bundle's ``kind`` names.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import EngineError, ModelError, OperationCancelled
from engine.models.bundle import Bundle, OperatingPoint
from engine.models.devices import DeviceState
from engine.models.results import Prediction
from engine.models.site import SITE_OP, SiteCalibration, SitePlan
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress

if TYPE_CHECKING:
    import torch


class Runner(Protocol):
    """What every model kind offers (see the module docstring).

    ``prepare(source, **options)``, ``run(items, *, explain, operating_point,
    cancel)`` and ``predict(source, **options)``; each kind documents the
    options it takes.
    """

    bundle: Bundle

    @property
    def device(self) -> str: ...

    @property
    def prepare(self) -> Callable[..., Any]: ...

    @property
    def run(self) -> Callable[..., list[Prediction]]: ...

    @property
    def predict(self) -> Callable[..., Prediction]: ...


@dataclass(frozen=True, eq=False)
class BatchItem:
    """The outcome for one input of :func:`predict_many`: a prediction or an error."""

    input: Any
    prediction: Prediction | None = None
    error: EngineError | None = None

    @property
    def ok(self) -> bool:
        return self.prediction is not None


def predict_many(
    model: Runner,
    inputs: Sequence[Any],
    *,
    batch_size: int = 8,
    explain: bool = False,
    operating_point: str | None = None,
    prefetch: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[BatchItem]:
    """Run ``model`` over ``inputs`` in batches, one :class:`BatchItem` per input, in order.

    Parameters
    ----------
    model
        A runner from :func:`engine.models.loader.load_runner` (or :func:`engine.workflow.load_model`).
    inputs
        Paths, images, signals or records, as the model's ``prepare`` takes.
    batch_size
        Inputs per model pass (images); preparation is per input.
    explain
        Compute explanations (heat maps, attributions) too.
    operating_point
        Name of the operating point (default: the bundle's default).
    prefetch
        Prepare upcoming inputs on a worker thread while the model runs (on
        ``model.prefetch_workers`` threads where the runner sets it).

    Notes
    -----
    An input that cannot be read, or that a gate refuses, becomes an item
    with ``error`` set; the others still run. Cancelling raises
    :class:`~engine.errors.OperationCancelled` between inputs and batches.
    """
    n = len(inputs)
    results: list[BatchItem | None] = [None] * n
    pending: list[tuple[int, Any]] = []
    batch_size = max(1, int(batch_size))

    def flush() -> None:
        if not pending:
            return
        check_cancelled(cancel)
        try:
            preds = model.run(
                [p for _, p in pending],
                explain=explain,
                operating_point=operating_point,
                cancel=cancel,
            )
        except OperationCancelled:
            raise
        except EngineError as exc:
            for i, _ in pending:
                results[i] = BatchItem(inputs[i], error=exc)
        else:
            for (i, _), pred in zip(pending, preds, strict=True):
                results[i] = BatchItem(inputs[i], prediction=pred)
        pending.clear()

    def prepare(source: Any) -> Any:
        try:
            return model.prepare(source)
        except EngineError as exc:
            return exc

    progress(0.0, f"Analysing {n} input(s)")
    # Inputs are decoded and preprocessed one batch ahead on a worker thread
    # while the model runs (torch and the decoders release the GIL).
    # A runner whose model pass is quicker than preparing an input asks for more threads.
    workers = max(1, int(getattr(model, "prefetch_workers", 1)))
    executor = ThreadPoolExecutor(max_workers=workers) if prefetch and n > 1 else None
    ahead: deque[tuple[int, Future[Any]]] = deque()
    try:
        next_index = 0
        for i, source in enumerate(inputs):
            check_cancelled(cancel)
            if executor is not None:
                while next_index < n and next_index < i + 2 * batch_size:
                    ahead.append((next_index, executor.submit(prepare, inputs[next_index])))
                    next_index += 1
                _, future = ahead.popleft()
                prepared = future.result()
            else:
                prepared = prepare(source)
            if isinstance(prepared, OperationCancelled):
                raise prepared
            if isinstance(prepared, EngineError):
                results[i] = BatchItem(source, error=prepared)
            else:
                pending.append((i, prepared))
            if len(pending) >= batch_size:
                flush()
            progress((i + 1) / max(n, 1), f"{i + 1} of {n}")
        flush()
    finally:
        if executor is not None:
            for _, future in ahead:
                future.cancel()
            executor.shutdown(wait=True)
    progress(1.0, "Done")
    return [r if r is not None else BatchItem(inputs[i]) for i, r in enumerate(results)]


@dataclass(frozen=True)
class RunRequest:
    """The checked options of one :meth:`RunnerBase.run` call, as a kind's ``_run`` gets them."""

    op: OperatingPoint
    method: str
    explain: bool
    cancel: CancelToken | None
    progress: Progress


class RunnerBase:
    """What ``run`` does first for every model kind: the checks, the operating point, the method.

    A kind implements :meth:`_run` on the validated items; :meth:`run` is the
    public entry point with the options every kind takes.

    ``site``, when set, is the clinic's :class:`~engine.models.site.SiteCalibration`
    of this very bundle (id, version and weights): ``run`` then recalibrates
    the positive probability of every result, makes the site operating point
    the default (``"site"``), maps a bundle operating point asked by name
    through the recalibration (same decisions) and adds
    ``extra["site_calibration"]`` (see :class:`~engine.models.site.SitePlan`).
    The workflow's ``load_model`` sets it on a copy of the cached runner.
    """

    bundle: Bundle
    #: The clinic's site calibration for this bundle, or ``None``.
    site: SiteCalibration | None = None
    #: The explanation methods the kind offers (empty: it takes no ``method``).
    explain_methods: tuple[str, ...] = ()
    #: How messages name the kind's input ("an image", "a signal").
    explained_input: str = ""
    #: The explanation method used when none is asked for (the manifest's).
    method_default: str = ""

    def run(
        self,
        items: Sequence[Any],
        *,
        explain: bool = True,
        method: str | None = None,
        operating_point: str | None = None,
        cancel: CancelToken | None = None,
        progress: Progress = no_progress,
    ) -> list[Prediction]:
        """Score prepared items in one batch, with their explanations when ``explain``.

        Raises
        ------
        ModelError
            For an unknown operating point or explanation method.
        OperationCancelled
            When ``cancel`` is set.
        """
        check_cancelled(cancel)
        if not items:
            return []
        plan = None
        if self.site is not None:
            plan = SitePlan.make(self.bundle, self.site, operating_point)
            op = plan.kind_op
        elif operating_point == SITE_OP and all(
            o.name != SITE_OP for o in self.bundle.operating_points
        ):
            raise ModelError(
                f"Model “{self.bundle.id}” {self.bundle.version} has no site operating point: "
                "save one with stethos-engine evaluate --save-site-calibration.",
            )
        else:
            op = self.bundle.operating_point(operating_point)
        chosen = ""
        if self.explain_methods:
            chosen = method or self.method_default
            if chosen not in self.explain_methods:
                raise ModelError(
                    f"“{chosen}” is not {self.explained_input} explanation method: "
                    f"use {' or '.join(self.explain_methods)}."
                )
        preds = self._run(list(items), RunRequest(op, chosen, explain, cancel, progress))
        return preds if plan is None else [self._with_site(plan, p) for p in preds]

    def _with_site(self, plan: SitePlan, pred: Prediction) -> Prediction:
        """``pred`` under the site calibration (a kind with more probabilities maps them too)."""
        return plan.apply(pred)

    def operating_point(self, name: str | None = None) -> OperatingPoint:
        """The operating point results report for ``name``: the site one when calibrated."""
        if self.site is not None:
            return SitePlan.make(self.bundle, self.site, name).shown
        return self.bundle.operating_point(name)

    def _run(self, items: list[Any], req: RunRequest) -> list[Prediction]:
        raise NotImplementedError


class TorchRunner(RunnerBase):
    """A torch network on a device, with CPU fallback on GPU out-of-memory."""

    def __init__(self, bundle: Bundle, net: torch.nn.Module, device: torch.device) -> None:
        self.bundle = bundle
        self.net = net
        self.state = DeviceState(device)
        self.net.to(device)
        # One pass at a time: explanation hooks live on the shared module, and a
        # CPU fallback moves it; runners are cached and shared between jobs.
        self._lock = threading.RLock()

    @property
    def device(self) -> str:
        """The device results are computed on now."""
        return self.state.name

    def _to_cpu(self) -> None:
        self.net.to("cpu")

    def _run_on_device(self, fn: Callable[[torch.device], Any]) -> Any:
        from engine.models.devices import run_with_fallback

        with self._lock:
            return run_with_fallback(self.state, fn, self._to_cpu)

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.state.notice:
            extra["notice"] = self.state.notice
        return extra

    def predict(self, source: Any, **options: Any) -> Prediction:
        """Prepare and run one input (options: those of ``prepare`` and ``run``)."""
        run_keys = {"explain", "operating_point", "cancel", "method", "progress"}
        run_opts = {k: v for k, v in options.items() if k in run_keys}
        prep_opts = {k: v for k, v in options.items() if k not in run_keys}
        progress: Progress = run_opts.pop("progress", no_progress)
        check_cancelled(run_opts.get("cancel"))
        progress(0.0, "Preparing the input")
        item = self.prepare(source, **prep_opts)  # type: ignore[attr-defined]
        check_cancelled(run_opts.get("cancel"))
        progress(0.3, "Running the model")
        run_opts["progress"] = sub_progress(progress, 0.3, 1.0)
        (pred,) = self.run([item], **run_opts)  # type: ignore[attr-defined]
        progress(1.0, "Done")
        return pred
