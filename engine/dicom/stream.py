"""Open files and their first series in one pass: each file's header and pixels read together.

Opening a folder used to read it twice: :func:`~engine.dicom.scan.scan_paths`
read every header, then :func:`~engine.dicom.volume.load_series` opened every
file again for its pixels. :func:`scan_and_load` reads each file once: the
header is parsed (:mod:`engine.dicom.fastheader`) from the file's first bytes
and, for a slice of the series being streamed (that of the first image file),
the pixel data is read from the same open file straight into its slot of one
preallocated array (uncompressed little endian), or the whole file is read and
decoded in a worker process (compressed; the decoders hold the GIL), the
calling thread decoding too until the workers have started. The first slice
goes to ``on_first_slice`` as soon as it is read. When every file is in, the
files are grouped as a scan groups them; if the first image series is the
streamed one, its slots are put in slice order in place (no second copy) and
returned as a :class:`~engine.dicom.volume.Volume`. Otherwise (a folder whose
first series sorts after another, a series mixing sizes or needing float
values after an integer start, ...) ``volume`` is ``None`` and the caller
loads the series as before.

Where the memory is short, the kernel may compact it before it hands out the
array's (huge) pages: 0.06 s became 0.35 s now and then on a busy machine, for
this pass and for pydicom's loop alike.
"""

from __future__ import annotations

import mmap
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from engine.dicom.fastheader import HEAD_BYTES, RawHeader, parse_header
from engine.dicom.files import Header, check_pixel_budget, quoted, read_dataset
from engine.dicom.pictures import is_picture
from engine.dicom.scan import (
    PER_SLICE_VALUES,
    Instance,
    ScanResult,
    _group,
    _picture_rows,
    instance_like,
    instance_row,
    read_instance,
)
from engine.dicom.volume import (
    FORK_SERVER,
    PROCESS_MIN_INSTANCES,
    FirstSlice,
    Volume,
    _check_loadable,
    _store,
    _submit_to_workers,
    _worker_count,
    instance_needs_float,
    read_native_from,
)
from engine.dicom.walk import collect_files
from engine.errors import CorruptDicomError, DicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

Row = tuple[Instance, dict[str, str]]


@dataclass(frozen=True, eq=False)
class OpenedFiles:
    """What :func:`scan_and_load` found, and the first image series when it was streamed.

    Attributes
    ----------
    scan
        As :func:`~engine.dicom.scan.scan_paths` returns it.
    volume
        The first image series of ``scan`` (``scan.image_series[0]``), loaded,
        or ``None`` when it must be loaded separately.
    """

    scan: ScanResult
    volume: Volume | None = None


class _Staging:
    """Slots of ``(rows, cols)`` pixels, handed out in reading order.

    One array for every file that may belong to the series, in anonymous
    memory of its own (small pages). A fresh page costs the kernel a fault and
    a zeroing when first written (about a third of loading an uncompressed
    series from the page cache), so a helper thread touches the pages of the
    next slots while the files are read, on the other core; it keeps at most
    :data:`LEAD` slots ahead, so slots never used take no memory. (Huge pages,
    which numpy asks for, fault in faster when the kernel has them free, and
    stall on compaction when it has not: 0.007 s to 0.4 s for 150 MiB here.)

    The reader and the helper never write the same slot: the helper fills a
    chunk only ahead of the reader, and a reader that reaches a chunk being
    filled waits for it; one that overtakes the helper stops it.
    """

    #: Slots touched per step, and at most this many ahead of the reader.
    CHUNK = 8
    LEAD = 32
    #: Below this size the helper thread is not worth starting.
    MIN_PREFAULT_BYTES = 16 << 20

    def __init__(self, capacity: int, rows: int, cols: int, dtype: np.dtype) -> None:
        count = capacity * rows * cols
        nbytes = max(count * np.dtype(dtype).itemsize, 1)
        self._memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            self._memory.madvise(mmap.MADV_NOHUGEPAGE)
        self.array = np.frombuffer(self._memory, dtype=dtype, count=count).reshape(
            capacity, rows, cols
        )
        self.used = 0
        self._capacity = capacity
        self._next = 0  # slots below this one are touched
        self._filling: tuple[int, int] | None = None
        self._stop = False
        self._cond = threading.Condition()
        self._helper: threading.Thread | None = None
        if nbytes >= self.MIN_PREFAULT_BYTES and capacity > self.CHUNK:
            self._helper = threading.Thread(target=self._prefault, name="stethos-prefault")
            self._helper.daemon = True
            self._helper.start()

    def _prefault(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._next >= self.used + self.LEAD:
                    self._cond.wait()
                if self._stop or self._next >= self._capacity:
                    return
                start = self._next
                end = min(start + self.CHUNK, self._capacity)
                self._filling = (start, end)
            self.array[start:end].fill(0)  # numpy lets go of the GIL: faults on this core
            with self._cond:
                self._filling = None
                self._next = end
                self._cond.notify_all()

    def take(self) -> int:
        with self._cond:
            k = self.used
            self.used += 1
            while self._filling is not None and self._filling[0] <= k < self._filling[1]:
                self._cond.wait()
            if k >= self._next:  # the reader is ahead: the helper must not write from here
                self._stop = True
            self._cond.notify_all()
        return k

    def finish(self) -> None:
        """Stop the helper (every slot the reader took is its own from then on)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._helper is not None:
            self._helper.join()
            self._helper = None


def _eligible(inst: Instance) -> bool:
    """Whether a file's pixels can be streamed into a series array."""
    return (
        inst.has_pixel_data
        and inst.is_grayscale
        and inst.n_frames == 1
        and inst.samples_per_pixel == 1
        and not inst.enhanced
        and inst.rescale.lut is None
        and inst.bits_allocated in (8, 16)
        and bool(inst.rows and inst.columns)
    )


def _read_local(path: Path, state: _Pass, remaining: int) -> Row | None:
    """Read one file here: its header, and its pixels when its series is being streamed."""
    try:
        fp = open(path, "rb", buffering=0)
    except OSError:
        return read_instance(path)  # says why, naming the file
    with fp:
        head = fp.read(HEAD_BYTES)
        size = len(head) if len(head) < HEAD_BYTES else os.fstat(fp.fileno()).st_size
        header = parse_header(head, size)
        if header is None and len(head) < size <= (1 << 22):
            header = parse_header(head + fp.read(), size)
        if header is None:
            row = read_instance(path)
        elif (like := state.like(header)) is not None:
            row = (instance_like(like[0], path, header), like[1])
        else:
            row = instance_row(path, header)
        if row is None:
            return None
        inst, grouping = row
        if state.uid is None and not state.spoiled and not state.start(inst, grouping, remaining):
            return row
        if not state.wants(inst, grouping):
            return row
        if header is not None:
            state.remember(header, row)
        out = state.slot(inst)
        if inst.pixel_offset is None:
            _decode_into(path, inst, out, state)
            return row
        try:
            read_native_from(fp, inst, out)
        except DicomError as exc:
            state.failed.append((path, exc.user_message))
            state.placed(inst, ok=False)
        else:
            state.placed(inst)
    return row


def decode_file(path: str, uid: str, shape: tuple[int, int], dtype: str) -> tuple:
    """Read one file whole (header and pixels): ``(row, pixels or None, problem or None)``.

    Runs in a worker process (or the calling thread). ``pixels`` are the modality
    values in ``dtype`` when the file is a slice of series ``uid`` of that
    ``shape``; ``problem`` is the user message when its pixels failed to decode.
    A file whose header cannot be read raises its :class:`DicomError`.
    """
    p = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_dataset(p)
        header = Header(ds, any(k in ds for k in ("PixelData", "FloatPixelData")), None)
        row = instance_row(p, header)
        if row is None:
            return None, None, None
        inst, grouping = row
        out_dtype = np.dtype(dtype)
        if not (
            grouping["SeriesInstanceUID"] == uid
            and (inst.rows, inst.columns) == shape
            and _eligible(inst)
            and (out_dtype.kind == "f" or not instance_needs_float(inst))
        ):
            return row, None, None
        from engine.dicom.decoders import decode_pixels

        try:
            values, _ = decode_pixels(ds, p)
            if values.shape != shape:
                raise CorruptDicomError(
                    f"“{p.name}” has pixel data that does not match its image size.",
                    f"decoded {values.shape}, header says {shape}",
                )
        except DicomError as exc:
            return row, None, exc.user_message
    out = np.empty(shape, dtype=out_dtype)
    if values.dtype.kind == "f":
        out[...] = values
    else:
        _store(values, inst, out)
    return row, out, None


class _Pass:
    """The state of one pass over the files."""

    def __init__(
        self,
        n_files: int,
        on_first_slice: Callable[[FirstSlice], None] | None,
        max_bytes: int | None,
    ) -> None:
        self.n_files = n_files
        self.on_first_slice = on_first_slice
        self.max_bytes = max_bytes
        self.uid: str | None = None  # the streamed series
        self.shape = (0, 0)
        self.dtype: np.dtype = np.dtype(np.int16)
        self.staging: _Staging | None = None
        self.slot_of: dict[int, int] = {}
        self.filled: list[bool] = []
        self.failed: list[tuple[Path, str]] = []
        self.spoiled = False  # a slice of the series could not be streamed
        self.compressed = False
        self.first_grouping: dict[str, str] = {}
        self.last: tuple[RawHeader, Row] | None = None

    def start(self, inst: Instance, grouping: dict[str, str], remaining: int) -> bool:
        """Make ``inst``'s series the streamed one; ``False`` when it cannot be."""
        if not _eligible(inst) or self.n_files < 2:
            return False
        self.uid = grouping["SeriesInstanceUID"]
        self.first_grouping = grouping
        self.shape = (inst.rows, inst.columns)
        self.dtype = np.dtype(np.float32 if instance_needs_float(inst) else np.int16)
        try:
            check_pixel_budget(
                inst.path,
                remaining * inst.rows * inst.columns,
                self.dtype.itemsize,
                max_bytes=self.max_bytes,
                what="series",
            )
        except DicomError:
            self.spoiled = True  # the load that follows reports it
            return False
        self.staging = _Staging(remaining, inst.rows, inst.columns, self.dtype)
        self.compressed = inst.pixel_offset is None
        return True

    def remember(self, header: Header, row: Row) -> None:
        """The last streamed slice's header: the next ones are compared with it."""
        if isinstance(header.ds, RawHeader):
            self.last = (header.ds, row)

    def like(self, header: Header) -> Row | None:
        """The last streamed slice's row when ``header`` differs from it only per slice."""
        if (
            self.last is None
            or header.truncated
            or not header.has_pixel_data
            or "SeriesInstanceUID" not in header.ds  # grouped by folder then: look again
        ):
            return None
        ds, row = self.last
        if not isinstance(header.ds, RawHeader) or not header.ds.same_except(ds, PER_SLICE_VALUES):
            return None
        return row

    def wants(self, inst: Instance, grouping: dict[str, str]) -> bool:
        if self.uid is None or grouping["SeriesInstanceUID"] != self.uid:
            return False
        fits = (
            _eligible(inst)
            and (inst.rows, inst.columns) == self.shape
            and (self.dtype.kind == "f" or not instance_needs_float(inst))
        )
        if not fits:
            self.spoiled = True
        return fits

    def slot(self, inst: Instance) -> np.ndarray:
        assert self.staging is not None
        k = self.staging.take()
        self.slot_of[id(inst)] = k
        self.filled.append(False)
        return self.staging.array[k]

    def placed(self, inst: Instance, ok: bool = True) -> None:
        k = self.slot_of[id(inst)]
        self.filled[k] = ok
        if ok and k == 0 and self.on_first_slice is not None and self.staging is not None:
            first = FirstSlice(
                0,
                self.staging.array[0].copy(),  # the slot is overwritten when slices are ordered
                inst.windows,
                inst.photometric,
                1,
                inst.inverted,
                scan=ScanResult(patients=_group([(inst, self.first_grouping)]), n_files=1),
            )
            self.on_first_slice(first)

    def volume(self, scan: ScanResult) -> Volume | None:
        """The first image series as a volume, when it is the streamed one and complete."""
        staging = self.staging
        if staging is not None:
            staging.finish()
        images = scan.image_series
        if staging is None or self.spoiled or not images:
            return None
        series = images[0]
        if series.series_instance_uid != self.uid or len(series.instances) < 2:
            return None
        try:
            _check_loadable(series)
        except DicomError:
            return None
        order = [self.slot_of.get(id(s.instance)) for s in series.slices]
        if any(k is None for k in order) or len(set(order)) != len(order):
            return None
        m = len(order)
        filled = np.asarray(self.filled, dtype=bool)
        _permute(staging.array, [int(k) for k in order if k is not None], staging.used)
        voxels = staging.array[:m]
        filled = filled[[int(k) for k in order if k is not None]]
        if not filled.any():
            raise CorruptDicomError(self.failed[0][1], "no slice of the series could be decoded")
        missing = tuple(int(i) for i in np.nonzero(~filled)[0])
        if missing:
            voxels[list(missing)] = voxels[filled].min()
        first = series.slices[0].instance
        return Volume(
            series=series,
            voxels=voxels,
            positions=tuple(s.position for s in series.slices),
            pixel_spacing=series.spacing.spacing,
            spacing_source=series.spacing.source,
            slice_spacing=series.slice_spacing,
            windows=first.windows,
            photometric=first.photometric,
            missing=missing,
            problems=tuple(self.failed),
            inverted=first.inverted,
        )


def _permute(array: np.ndarray, order: list[int], used: int) -> None:
    """Reorder ``array[:used]`` in place so that ``array[i]`` becomes old ``array[order[i]]``.

    ``order`` may be shorter than ``used`` (duplicates, other series): the
    remaining slots end up after it, in any order. One slice of scratch memory.
    """
    taken = set(order)
    perm = order + [k for k in range(used) if k not in taken]
    done = bytearray(used)
    scratch = np.empty(array.shape[1:], dtype=array.dtype)
    for i in range(used):
        if done[i]:
            continue
        if perm[i] == i:
            done[i] = 1
            continue
        scratch[...] = array[i]
        j = i
        while True:
            done[j] = 1
            k = perm[j]
            if k == i:
                array[j] = scratch
                break
            array[j] = array[k]
            j = k


def scan_and_load(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    on_first_slice: Callable[[FirstSlice], None] | None = None,
    *,
    workers: int | None = None,
    use_processes: bool | None = None,
    max_bytes: int | None = None,
) -> OpenedFiles:
    """Scan files, folders and DICOMDIRs and load the first image series, in one pass.

    Parameters
    ----------
    paths
        Files, folders (searched recursively) and DICOMDIR files.
    progress, cancel
        Progress per file; cancel is checked between files.
    on_first_slice
        Called once, from the calling thread, with the first image of the
        streamed series as soon as it is read (its place in the series is not
        known yet: ``index`` 0 of ``n_slices`` 1).
    workers, use_processes
        Decoding processes for compressed files (default: the CPU cores, at
        most 8; used when at least :data:`~engine.dicom.volume.PROCESS_MIN_INSTANCES`
        compressed files follow the first).
    max_bytes
        Bound on the streamed array (default :data:`engine.dicom.files.MAX_PIXEL_BYTES`).

    Returns
    -------
    OpenedFiles
        The scan (as :func:`~engine.dicom.scan.scan_paths` gives it) and the
        first image series' volume when it could be streamed.

    Raises
    ------
    OperationCancelled
        When ``cancel`` is set.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = list(paths)
    progress(0.0, "Looking for DICOM files")
    problems: list[tuple[Path, str]] = []
    pictures = [Path(p) for p in paths if is_picture(p) and Path(p).is_file()]
    files = collect_files([p for p in paths if Path(p) not in pictures], problems)
    check_cancelled(cancel)
    picture_rows = _picture_rows(pictures, problems)
    n = len(files)
    state = _Pass(n, on_first_slice, max_bytes)
    rows: list[Row | None] = [None] * n
    file_problems: dict[int, tuple[Path, str]] = {}
    workers = _worker_count(workers)
    pool_allowed = use_processes or (use_processes is None and workers > 1)
    try:
        for index, path in enumerate(files):
            check_cancelled(cancel)
            if index % 8 == 0:
                progress(index / max(n, 1), f"Reading {index + 1} of {n} files")
            try:
                rows[index] = _read_local(path, state, n - index)
            except DicomError as exc:
                file_problems[index] = (path, exc.user_message)
                continue
            if (
                state.compressed
                and state.staging is not None
                and pool_allowed
                and n - index - 1 >= PROCESS_MIN_INSTANCES
            ):
                if _pool_rest(
                    files, index + 1, rows, file_problems, state, workers, progress, cancel
                ):
                    break
                pool_allowed = False  # no worker could start: the rest is decoded here
        check_cancelled(cancel)
        for k in sorted(file_problems):
            problems.append(file_problems[k])
        kept = picture_rows + [r for r in rows if r is not None]
        scan = ScanResult(
            patients=_group(kept),
            problems=tuple(problems),
            n_files=n + len(pictures),
            non_image_files=sum(1 for inst, _ in kept if not inst.has_pixel_data),
        )
        volume = state.volume(scan)
    finally:  # the prefaulting helper ends with the pass, cancelled or not
        if state.staging is not None:
            state.staging.finish()
    progress(1.0, f"{len(kept)} DICOM files read")
    return OpenedFiles(scan, volume)


def _decode_into(path: Path, inst: Instance, out: np.ndarray, state: _Pass) -> None:
    assert state.uid is not None
    try:
        _, values, problem = decode_file(str(path), state.uid, state.shape, state.dtype.str)
    except DicomError as exc:
        values, problem = None, exc.user_message
    if values is None:
        state.failed.append((path, problem or "The image could not be decoded."))
        state.placed(inst, ok=False)
        return
    out[...] = values
    state.placed(inst)


def _pool_rest(
    files: list[Path],
    start: int,
    rows: list[Row | None],
    file_problems: dict[int, tuple[Path, str]],
    state: _Pass,
    workers: int,
    progress: Progress,
    cancel: CancelToken | None,
) -> bool:
    """Read and decode ``files[start:]`` in worker processes, the calling thread helping.

    ``False`` (nothing read) when no worker process could start, e.g. the
    system refused a new process or the fork server's socket.
    """
    assert state.uid is not None
    args = (state.uid, state.shape, state.dtype.str)
    # in file order; a future leaves the dict when handled, so its pixels can be freed
    jobs = [(k, (str(files[k]), *args)) for k in range(start, len(files))]
    futures = _submit_to_workers(workers, decode_file, jobs)
    if futures is None:
        return False
    # Spawned workers take ~0.2 s each to import the decoders: this thread decodes
    # from the end until one answers. Forked from the fork server, they are ready
    # once the pool has started (submitting waits for that), and a file decoded
    # here would only hold the GIL that the threads feeding them need.
    n, done, answered = len(files), start, FORK_SERVER

    def take(k: int, result: tuple | None, error: BaseException | None) -> None:
        nonlocal done
        done += 1
        if done % 8 == 0:
            progress(done / n, f"Read {done} of {n} files")
        path = files[k]
        if isinstance(error, DicomError):
            file_problems[k] = (path, error.user_message)
            return
        if error is not None:  # the worker died (a decoder crash): the header is still good
            try:
                row = read_instance(path)
            except DicomError as exc:
                file_problems[k] = (path, exc.user_message)
                return
            problem = f"{quoted(path)} could not be decoded: the decoder stopped."
            result = (row, None, problem)
        assert result is not None
        row, values, problem = result
        rows[k] = row
        if row is None or not state.wants(*row):
            return
        inst = row[0]
        out = state.slot(inst)
        if values is None:
            state.failed.append((path, problem or "The image could not be decoded."))
            state.placed(inst, ok=False)
        else:
            out[...] = values
            state.placed(inst)

    try:
        while futures:
            if cancel is not None and cancel.cancelled:
                break
            if not answered:  # the workers take files from the front
                answered = any(f.done() for f in islice(futures, workers + 1))
            last = next(reversed(futures))
            if not answered and last.cancel():  # the workers are still starting: help
                k = futures.pop(last)
                try:
                    take(k, decode_file(str(files[k]), *args), None)
                except DicomError as exc:
                    take(k, None, exc)
                continue
            finished, _ = wait(futures, timeout=0.1, return_when=FIRST_COMPLETED)
            for f in sorted(finished, key=futures.__getitem__):
                answered = True
                k = futures.pop(f)
                try:
                    result = f.result()
                except BaseException as exc:  # a DicomError, or a worker that died
                    take(k, None, exc)
                    continue
                take(k, result, None)
                del result
    finally:
        for f in futures:
            f.cancel()
    return True


__all__ = ["OpenedFiles", "decode_file", "scan_and_load"]
