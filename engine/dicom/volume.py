"""Load a whole grayscale series into one preallocated array, fast.

:func:`load_series` allocates a single ``(slices, rows, cols)`` array
(int16 when the modality values are integers that fit, else float32) after
checking its size against a bound, shows the first slice before the rest is
decoded (``on_first_slice``), then fills the rest in parallel with progress
and cancel:

- uncompressed little-endian slices are read straight from the file into
  their place in the array (the pixel offset is known from the scan), by
  one thread (:data:`LOAD_THREADS`), which asks the kernel to read the next
  files ahead (``posix_fadvise``) so the disk still works in parallel. The
  per-slice work between the reads is Python that holds the GIL, and a
  second reading thread took turns at it with the UI thread: opening a
  300-slice 512×512 series in the viewer, the UI thread's longest stall was
  66 ms (median of 8; 54–141) with two threads, 44 ms (29–90) with one, for
  the same time to the whole series on screen. On its own (no UI), a second
  thread can load faster when the first touch of the new array's pages is
  slow (fresh process, memory under pressure): 0.23 s vs 0.40 s median in one
  set of runs on a shared two-core machine, the reverse in another;
- compressed slices are decoded in worker processes, because the JPEG 2000,
  JPEG and JPEG-LS decoders (pylibjpeg-openjpeg, -libjpeg, pyjpegls) hold the
  GIL while they decode: threads do not run them in parallel. Each worker
  returns one instance's modality values, which are copied into place.

A slice that cannot be decoded does not stop the load: it is listed in
``Volume.missing`` and ``Volume.problems`` and shown as the series minimum.
"""

from __future__ import annotations

import atexit
import io
import logging
import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from engine.dicom import _worker
from engine.dicom.files import check_pixel_budget, quoted
from engine.dicom.image import read_image
from engine.dicom.pixels import Window, full_range_window, window_to_8bit
from engine.dicom.scan import Instance, ScanResult, Series
from engine.errors import CorruptDicomError, DicomError, UnsupportedDicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

log = logging.getLogger(__name__)
_K = TypeVar("_K")

#: Compressed series with at least this many instances are decoded in worker processes.
PROCESS_MIN_INSTANCES = 8
#: Threads that read uncompressed slices (and decode the rest when no process pool is used).
LOAD_THREADS = 1
#: How many files ahead the reading thread asks the kernel to read.
READ_AHEAD = 8

_EXPLICIT_LONG_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR")
_PIXEL_TAG = (0x7FE0, 0x0010)


@dataclass(frozen=True, eq=False)
class Volume:
    """A loaded series: modality values of every slice in one array.

    Attributes
    ----------
    voxels
        ``(slices, rows, cols)`` int16 or float32 modality values (HU for CT),
        slices in the series order (along the slice normal when known).
    positions
        Image Position (Patient) of each slice, or ``None`` where unknown.
    pixel_spacing, spacing_source
        In-plane spacing for measurement (see :class:`~engine.dicom.geometry.SpacingInfo`).
    slice_spacing
        Usual distance between slices in mm, if known.
    windows
        The first image's VOI windows / LUTs.
    missing
        Indices of slices that could not be decoded (filled with the minimum).
    problems
        ``(path, user message)`` for each file that failed.
    """

    series: Series
    voxels: np.ndarray
    positions: tuple[tuple[float, float, float] | None, ...]
    pixel_spacing: tuple[float, float] | None
    spacing_source: str | None
    slice_spacing: float | None
    windows: tuple[Window, ...]
    photometric: str
    missing: tuple[int, ...] = ()
    problems: tuple[tuple[Path, str], ...] = ()
    inverted: bool = False

    @property
    def n_slices(self) -> int:
        """Number of slices."""
        return int(self.voxels.shape[0])

    def default_window(self, index: int = 0) -> Window:
        """The first image's window, else the slice's full range."""
        return self.windows[0] if self.windows else full_range_window(self.voxels[index])

    def render(self, index: int, window: Window | None = None) -> np.ndarray:
        """One slice as shown: ``(rows, cols)`` uint8."""
        return window_to_8bit(
            self.voxels[index], window or self.default_window(index), invert=self.inverted
        )


@dataclass(frozen=True, eq=False)
class FirstSlice:
    """What ``on_first_slice`` receives: enough to show one slice at once."""

    index: int
    pixels: np.ndarray
    windows: tuple[Window, ...]
    photometric: str
    n_slices: int
    inverted: bool = False
    #: From :func:`~engine.dicom.stream.scan_and_load`, before the series is ordered:
    #: the first file's patient, study and series alone (``index`` 0 of ``n_slices`` 1).
    scan: ScanResult | None = None

    def render(self, window: Window | None = None) -> np.ndarray:
        """The slice as shown: ``(rows, cols)`` uint8."""
        win = window or (self.windows[0] if self.windows else full_range_window(self.pixels))
        return window_to_8bit(self.pixels, win, invert=self.inverted)


# --- choosing the array -----------------------------------------------------------
def _stored_range(inst: Instance) -> tuple[int, int]:
    bits = max(min(inst.bits_stored or inst.bits_allocated, 32), 1)
    if inst.pixel_representation == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def instance_needs_float(inst: Instance) -> bool:
    """Whether an instance's modality values may be fractional or outside int16."""
    r = inst.rescale
    if (
        inst.enhanced
        or r.lut is not None
        or inst.bits_allocated > 16
        or r.slope != round(r.slope)
        or r.intercept != round(r.intercept)
    ):
        return True
    lo, hi = _stored_range(inst)
    values = (lo * r.slope + r.intercept, hi * r.slope + r.intercept)
    return min(values) < -32768 or max(values) > 32767


def volume_dtype(series: Series) -> np.dtype:
    """int16 when every modality value is an integer that fits, else float32."""
    if any(inst.has_pixel_data and instance_needs_float(inst) for inst in series.instances):
        return np.dtype(np.float32)
    return np.dtype(np.int16)


# --- decoding one instance ----------------------------------------------------------
def _fast_path(inst: Instance) -> bool:
    return (
        inst.pixel_offset is not None
        and inst.n_frames == 1
        and inst.samples_per_pixel == 1
        and inst.bits_allocated in (8, 16)
        and inst.rescale.lut is None
        and not inst.enhanced
    )


def _read_native(inst: Instance, out: np.ndarray) -> None:
    """Read an uncompressed little-endian slice from its file straight into ``out``."""
    with inst.path.open("rb", buffering=0) as fp:
        read_native_from(fp, inst, out)


def read_native_from(fp: io.RawIOBase, inst: Instance, out: np.ndarray) -> None:
    """:func:`_read_native` from a file already open (its position does not matter)."""
    stored = np.dtype(
        ("<i" if inst.pixel_representation == 1 else "<u") + str(inst.bits_allocated // 8)
    )
    n_bytes = inst.rows * inst.columns * stored.itemsize
    assert inst.pixel_offset is not None
    fp.seek(inst.pixel_offset)
    head = fp.read(12)
    if len(head) < 8:
        raise CorruptDicomError(f"{quoted(inst.path)} is truncated before its pixel data.")
    group = int.from_bytes(head[0:2], "little")
    element = int.from_bytes(head[2:4], "little")
    if (group, element) != _PIXEL_TAG:
        raise CorruptDicomError(
            f"{quoted(inst.path)} changed since it was scanned; scan the folder again.",
            f"expected (7FE0,0010) at {inst.pixel_offset}, found ({group:04X},{element:04X})",
        )
    if inst.transfer_syntax == "1.2.840.10008.1.2":  # implicit VR
        length, start = int.from_bytes(head[4:8], "little"), 8
    elif head[4:6] in _EXPLICIT_LONG_VRS:
        length, start = int.from_bytes(head[8:12], "little"), 12
    else:
        length, start = int.from_bytes(head[6:8], "little"), 8
    if length < n_bytes or length == 0xFFFFFFFF:
        raise CorruptDicomError(
            f"{quoted(inst.path)} has incomplete pixel data.",
            f"{length} bytes of pixel data, {n_bytes} expected",
        )
    fp.seek(inst.pixel_offset + start)
    # int16 volume and 16-bit stored values: read into place, convert in place
    in_place = (
        out.dtype == np.int16
        and stored.itemsize == 2
        and out.flags.c_contiguous
        and inst.rescale.slope == 1.0
        and (inst.pixel_representation == 1 or inst.bits_stored <= 15)
    )
    buf = out.reshape(-1) if in_place else _scratch(inst.rows * inst.columns, stored)
    got = fp.readinto(memoryview(buf).cast("B"))  # type: ignore[arg-type]
    if got != n_bytes:
        raise CorruptDicomError(
            f"{quoted(inst.path)} is truncated inside its pixel data.",
            f"read {got} of {n_bytes} bytes",
        )
    shift = inst.bits_allocated - inst.bits_stored
    if in_place:
        if shift > 0:
            # drop unused high bits (overlays, garbage) and sign-extend (PS3.5 8.1.1)
            raw = buf.view(stored)
            if inst.pixel_representation == 1:
                np.left_shift(raw, shift, out=raw)
                np.right_shift(raw, shift, out=raw)
            else:  # one pass instead of two
                np.bitwise_and(raw, (1 << inst.bits_stored) - 1, out=raw)
        if inst.rescale.intercept:
            np.add(buf, np.int16(inst.rescale.intercept), out=buf)
        return
    values = buf.reshape(inst.rows, inst.columns)
    if shift > 0:
        np.left_shift(values, shift, out=values)
        np.right_shift(values, shift, out=values)
    _store(values, inst, out)


def _read_ahead(inst: Instance) -> None:
    """Ask the kernel to start reading ``inst``'s pixel data now (no thread, no wait)."""
    if not hasattr(os, "posix_fadvise") or inst.pixel_offset is None:
        return
    try:
        fd = os.open(inst.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, inst.pixel_offset, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)
    except OSError:
        pass  # the read itself reports what is wrong


_local = threading.local()


def _scratch(n: int, dtype: np.dtype) -> np.ndarray:
    """A per-thread buffer reused from slice to slice (no page faults per slice)."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.nbytes < n * dtype.itemsize:
        buf = _local.buf = np.empty(n * dtype.itemsize, dtype=np.uint8)
    return buf[: n * dtype.itemsize].view(dtype)


def _store(values: np.ndarray, inst: Instance, out: np.ndarray) -> None:
    r = inst.rescale
    if out.dtype == np.int16:
        if r.slope == 1.0:
            np.add(values, np.int32(r.intercept), out=out, casting="unsafe", dtype=np.int32)
        else:
            np.add(
                np.multiply(values, np.int32(r.slope), dtype=np.int32),
                np.int32(r.intercept),
                out=out,
                casting="unsafe",
            )
    else:
        r.apply(values, out=out)


def _decode_instance(path: str, dtype: str) -> tuple[bytes, tuple[int, ...]]:
    """Worker: one instance's frames as modality values in the volume's dtype (bytes, shape)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = read_image(path).frames
    if np.dtype(dtype).kind == "i":
        frames = np.rint(frames).astype(dtype)
    else:
        frames = frames.astype(dtype, copy=False)
    return frames.tobytes(), frames.shape


_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


#: Whether decoding workers are forked from a fork server (Linux), not spawned.
#: Starting such a pool returns once the workers exist, ready to decode.
FORK_SERVER = sys.platform.startswith("linux")


def worker_context() -> multiprocessing.context.BaseContext:
    """How decoding workers start: never by forking this (Qt, threads) process.

    On Linux, a fork server: one fresh interpreter imports the decoders once
    (:mod:`engine.dicom._preload`), then each worker is a fork of it, ready at
    once. Two spawned workers each imported them (~0.2 s of CPU apiece) while
    the first slices were being decoded on the same cores. Elsewhere, spawn
    (macOS system libraries are not safe to use in a forked child; Windows
    has nothing else).
    """
    if FORK_SERVER:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["engine.dicom._preload"])
        return context
    return multiprocessing.get_context("spawn")


def _process_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is not None and getattr(_pool, "_broken", False):  # a worker died
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=worker_context(),
                initializer=_worker.init,  # before pydicom is imported there
            )
            _pool_size = workers
        return _pool


def _submit_to_workers(
    workers: int, fn: Callable, jobs: list[tuple[_K, tuple]]
) -> dict[Future, _K] | None:
    """``fn(*args)`` for each ``(key, args)`` of ``jobs``, in order: each future's key.

    The caller handles each future and drops it from the dict (its result,
    a slice's pixels, is then freed). ``None`` when no worker process could
    start (the system refused a process, or the fork server's socket): that
    is logged, the pool is dropped, and the caller decodes the files itself.
    """
    try:
        pool = _process_pool(workers)
        return {pool.submit(fn, *args): key for key, args in jobs}
    except (OSError, RuntimeError) as exc:  # RuntimeError: BrokenProcessPool among them
        log.warning("decoding workers could not start, decoding here instead: %r", exc)
        shutdown_workers(wait=False)
        return None


def _ping() -> int:
    return os.getpid()


def _worker_count(workers: int | None = None) -> int:
    return max(1, min(workers or os.cpu_count() or 1, 8))


def start_workers(workers: int | None = None) -> None:
    """Start the decoding worker processes now and wait until they are ready.

    They otherwise start with the first compressed series, which then pays
    their start-up (about 0.2 s); a viewer can call this at launch.
    """
    n = _worker_count(workers)
    pool = _process_pool(n)
    for future in [pool.submit(_ping) for _ in range(n)]:
        future.result()


def decode_in_worker(path: str | Path, timeout: float = 60.0) -> np.ndarray:
    """``path``'s frames decoded by a worker process (float32 modality values).

    The installation's self-test uses it: the workers start (as a frozen
    application does) and decode with the libraries inside them.
    """
    future = _process_pool(_worker_count()).submit(_decode_instance, str(path), "float32")
    data, shape = future.result(timeout)  # the workers' start included
    return np.frombuffer(data, dtype=np.float32).reshape(shape)


def shutdown_workers(wait: bool = True) -> None:
    """Stop the decoding worker processes (they restart on the next load)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
            _pool = None


atexit.register(shutdown_workers)


# --- loading ------------------------------------------------------------------------
def _check_loadable(series: Series) -> None:
    if not series.is_image:
        raise UnsupportedDicomError(
            f"Series “{series.label}” holds no images.", series.series_instance_uid
        )
    first = series.slices[0].instance
    if any(not s.instance.is_grayscale for s in series.slices):
        raise UnsupportedDicomError(
            f"Series “{series.label}” is in colour; open its images one by one.",
            first.photometric,
        )
    if series.mixed_sizes:
        raise UnsupportedDicomError(
            f"Series “{series.label}” mixes images of different sizes and cannot be loaded "
            "as one stack; open its images one by one.",
            "; ".join(series.problems),
        )


def load_series(
    series: Series,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    on_first_slice: Callable[[FirstSlice], None] | None = None,
    *,
    first_index: int = 0,
    workers: int | None = None,
    use_processes: bool | None = None,
    max_bytes: int | None = None,
) -> Volume:
    """Decode every slice of a grayscale series into one preallocated array.

    Parameters
    ----------
    series
        From :func:`~engine.dicom.scan.scan_paths`.
    progress, cancel
        Progress per slice; cancel is checked between slices.
    on_first_slice
        Called once, from the calling thread, as soon as slice ``first_index``
        is decoded, before the others.
    first_index
        Which slice to show first (default the first in order).
    workers
        Decoding processes for compressed slices (default: the number of CPU
        cores, at most 8); other slices are read by :data:`LOAD_THREADS` thread(s).
    use_processes
        Decode compressed slices in worker processes (default: when the series
        is compressed and has at least :data:`PROCESS_MIN_INSTANCES` files).
    max_bytes
        Refuse, before allocating, volumes larger than this (default
        :data:`engine.dicom.files.MAX_PIXEL_BYTES`).

    Returns
    -------
    Volume

    Raises
    ------
    UnsupportedDicomError
        No images, colour, mixed sizes, or too large.
    OperationCancelled
        When ``cancel`` is set.
    DicomError
        When no slice at all could be decoded.
    """
    _check_loadable(series)
    check_cancelled(cancel)
    slices = series.slices
    n = len(slices)
    rows, cols = series.shape or (0, 0)
    dtype = volume_dtype(series)
    check_pixel_budget(
        series.instances[0].path,
        n * rows * cols,
        dtype.itemsize,
        max_bytes=max_bytes,
        what="series",
    )
    voxels = np.empty((n, rows, cols), dtype=dtype)
    workers = _worker_count(workers)

    # which slices each instance fills
    targets: dict[int, tuple[Instance, list[tuple[int, int]]]] = {}
    for index, ref in enumerate(slices):
        targets.setdefault(id(ref.instance), (ref.instance, []))[1].append((index, ref.frame))
    jobs = list(targets.values())
    first_index = min(max(first_index, 0), n - 1)
    first_key = id(slices[first_index].instance)

    filled = np.zeros(n, dtype=bool)
    problems: list[tuple[Path, str]] = []
    errors: list[DicomError] = []
    done = 0
    lock = threading.Lock()

    def place(where: list[tuple[int, int]], frames: np.ndarray) -> None:
        for index, frame in where:
            if frames.dtype != dtype and dtype.kind == "i":
                np.rint(frames[frame], out=voxels[index], casting="unsafe")
            else:
                voxels[index] = frames[frame]
            filled[index] = True

    def load_here(inst: Instance, where: list[tuple[int, int]]) -> None:
        if _fast_path(inst):
            _read_native(inst, voxels[where[0][0]])
            filled[where[0][0]] = True
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                place(where, read_image(inst.path).frames)

    def failed(inst: Instance, exc: DicomError) -> None:
        problems.append((inst.path, exc.user_message))
        errors.append(exc)

    def advance(count: int) -> None:
        nonlocal done
        with lock:
            done += count
            progress(done / n, f"Loaded {done} of {n} images")

    progress(0.0, f"Loading {n} images")
    # 1. the first slice, here and before anything else competes for the CPU
    first_job = targets[first_key]
    try:
        load_here(*first_job)
    except DicomError as exc:
        failed(first_job[0], exc)
    if on_first_slice is not None and filled[first_index]:
        first = slices[first_index].instance
        on_first_slice(
            FirstSlice(
                first_index,
                voxels[first_index],
                first.windows,
                first.photometric,
                n,
                first.inverted,
            )
        )
    advance(len(first_job[1]))
    check_cancelled(cancel)

    # 2. the rest: compressed in worker processes, uncompressed on threads
    rest = [j for j in jobs if id(j[0]) != first_key]
    compressed = [j for j in rest if not _fast_path(j[0])]
    if use_processes is None:
        use_processes = workers > 1 and len(compressed) >= PROCESS_MIN_INSTANCES
    pool_jobs = compressed if use_processes else []
    thread_jobs = [j for j in rest if not (use_processes and not _fast_path(j[0]))]

    futures: dict[Future, tuple[Instance, list[tuple[int, int]]]] = {}
    if pool_jobs:
        work = [(job, (str(job[0].path), dtype.str)) for job in pool_jobs]
        submitted = _submit_to_workers(workers, _decode_instance, work)
        if submitted is None:  # no worker could start: the threads decode them
            thread_jobs = rest
        else:
            futures = submitted

    def run_chunk(chunk: list[tuple[Instance, list[tuple[int, int]]]]) -> None:
        for ahead in chunk[:READ_AHEAD]:
            _read_ahead(ahead[0])
        for k, job in enumerate(chunk):
            if cancel is not None and cancel.cancelled:
                return
            if k + READ_AHEAD < len(chunk):
                _read_ahead(chunk[k + READ_AHEAD][0])
            try:
                load_here(*job)
            except DicomError as exc:
                with lock:
                    failed(job[0], exc)
            advance(len(job[1]))

    n_threads = min(LOAD_THREADS, len(thread_jobs))
    threads = ThreadPoolExecutor(max_workers=max(n_threads, 1), thread_name_prefix="stethos-load")
    chunks = [threads.submit(run_chunk, thread_jobs[i::n_threads]) for i in range(n_threads)]
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if cancel is not None and cancel.cancelled:
                for f in pending:
                    f.cancel()
                break
            for f in finished:
                inst, where = futures.pop(f)
                try:
                    data, shape = f.result()
                except DicomError as exc:
                    with lock:
                        failed(inst, exc)
                except Exception as exc:  # a worker process died (decoder crash)
                    with lock:
                        failed(
                            inst,
                            CorruptDicomError(
                                f"{quoted(inst.path)} could not be decoded: the decoder stopped.",
                                f"{type(exc).__name__}: {exc}",
                            ),
                        )
                else:
                    place(where, np.frombuffer(data, dtype=dtype).reshape(shape))
                    del data
                advance(len(where))
    finally:
        threads.shutdown(wait=True)
    for chunk in chunks:
        chunk.result()  # re-raise anything unexpected from a thread
    check_cancelled(cancel)

    missing = tuple(int(i) for i in np.nonzero(~filled)[0])
    if len(missing) == n:
        raise errors[0]
    if missing:
        fill = voxels[filled].min()
        voxels[list(missing)] = fill
    first = slices[0].instance
    progress(1.0, f"Loaded {n} images")
    return Volume(
        series=series,
        voxels=voxels,
        positions=tuple(s.position for s in slices),
        pixel_spacing=series.spacing.spacing,
        spacing_source=series.spacing.source,
        slice_spacing=series.slice_spacing,
        windows=first.windows,
        photometric=first.photometric,
        missing=missing,
        problems=tuple(problems),
        inverted=first.inverted,
    )
