"""The fuzzing property, its bounds, and the atheris driver shared by every target.

The property: a target either loads its input or raises
:class:`engine.errors.EngineError` with a non-empty ``user_message``. Anything
else is a *finding*:

- any other exception escaping the engine;
- an ``EngineError`` with an empty user message;
- an ``EngineError`` caused (anywhere in its chain) by ``MemoryError``: the
  engine tried to allocate past the address-space bound before refusing;
- :class:`FuzzHang`: one input ran past :data:`TIME_BOUND_S`.

This module does not import atheris at import time, so the pytest replay of
the regression corpus (``tests/engine/test_fuzz_regression.py``) runs without it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from engine.errors import EngineError

#: Seconds one input may take before it counts as a hang.
TIME_BOUND_S = 10.0
#: Inputs slower than this are saved (as "slow") but are not findings.
SLOW_S = 2.0
#: Address space a fuzzing process may map (``RLIMIT_AS``) beyond what it maps after
#: start-up: the pixel bound the targets pass (:data:`FUZZ_MAX_BYTES`) several times over.
ADDRESS_SPACE_BYTES = 3 * 1024**3
#: ``max_bytes`` the image and series targets pass to the engine: a crafted header
#: may legitimately make it allocate this much; more is refused before allocating.
FUZZ_MAX_BYTES = 256 * 1024**2

#: Packages whose code atheris instruments for coverage feedback.
INSTRUMENTED = ["engine", "pydicom", "wfdb", "zipfile", "json", "csv"]

T = TypeVar("T")


class FuzzHang(BaseException):
    """Raised by the alarm when one input runs past :data:`TIME_BOUND_S`."""


class PropertyViolation(AssertionError):
    """The engine raised its own error, but not as the property requires."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise FuzzHang(f"input ran longer than {TIME_BOUND_S:g} s")


@contextlib.contextmanager
def time_bound(seconds: float = TIME_BOUND_S) -> Iterator[None]:
    """Raise :class:`FuzzHang` in the main thread after ``seconds`` (no bound elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def expect(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn``; return its result, or ``None`` when it refused with a proper EngineError.

    Raises
    ------
    PropertyViolation
        An EngineError without a user message, or one caused by MemoryError.
    Exception
        Any other exception ``fn`` raised (a finding), unchanged.
    """
    try:
        return fn(*args, **kwargs)
    except EngineError as exc:
        check_engine_error(exc)
        return None


def check_engine_error(exc: BaseException) -> None:
    """Assert that ``exc`` is an EngineError as the property requires."""
    if not isinstance(exc, EngineError):
        raise PropertyViolation(f"expected an EngineError, got {type(exc).__name__}: {exc}")
    message = exc.user_message
    if not isinstance(message, str) or not message.strip():
        raise PropertyViolation(f"{type(exc).__name__} without a user message: {exc!r}") from exc
    for cause in _chain(exc):
        if isinstance(cause, MemoryError):
            raise PropertyViolation(
                f"{type(exc).__name__} raised only after running out of memory: {exc.user_message}"
            ) from exc


# --- a scratch folder per process ---------------------------------------------
_workdir: Path | None = None


def workdir() -> Path:
    """A private scratch folder for this process (removed at exit)."""
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="stethos-fuzz-"))
        atexit.register(shutil.rmtree, _workdir, True)
    return _workdir


def fresh_dir(name: str) -> Path:
    """An empty sub-folder ``name`` of :func:`workdir`."""
    folder = workdir() / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def quiet() -> contextlib.AbstractContextManager[Any]:
    """Silence library warnings while one input runs."""
    cm = warnings.catch_warnings()

    class _Quiet(contextlib.AbstractContextManager):
        def __enter__(self) -> None:
            cm.__enter__()
            warnings.simplefilter("ignore")

        def __exit__(self, *exc: Any) -> None:
            cm.__exit__(*exc)

    return _Quiet()


# --- the atheris driver ---------------------------------------------------------
def _mapped_bytes() -> int:
    """The process's virtual size (Linux), 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def signature(exc: BaseException) -> str:
    """Type plus the innermost frame in the engine (else the innermost frame)."""
    if isinstance(exc, PropertyViolation) and exc.__cause__ is not None:
        inner = list(_chain(exc.__cause__))[-1]
        return f"{type(exc).__name__}-{signature(inner)}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if f"{os.sep}engine{os.sep}" in f.filename), None)
    where = where or (frames[-1] if frames else None)
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    return f"{type(exc).__name__}@{place}"


def main(target: str, check: Callable[[bytes], None], setup: Callable[[], None] | None) -> None:
    """Fuzz ``check`` with atheris; findings are saved, counted and fuzzing goes on.

    Findings land in ``$STETHOS_FUZZ_OUT/findings/<target>/`` (default
    ``/tmp/fuzz``): ``<signature>-<sha1>.bin`` plus a ``.txt`` traceback, one
    per distinct signature (exception type and innermost engine frame).
    """
    import resource

    import atheris

    out = Path(os.environ.get("STETHOS_FUZZ_OUT", "/tmp/fuzz"))
    findings_dir = out / "findings" / target
    slow_dir = out / "slow" / target
    findings_dir.mkdir(parents=True, exist_ok=True)
    slow_dir.mkdir(parents=True, exist_ok=True)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if setup is not None:
        # Instrument (for coverage feedback) the engine and the parsers it drives,
        # not numpy or jsonschema's internals: several times more inputs a second.
        with atheris.instrument_imports(include=INSTRUMENTED):
            setup()

    def bound_memory() -> None:
        # Set once atheris has loaded libFuzzer (mapping it needs address space):
        # what the process maps now, plus room for the inputs.
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _mapped_bytes() + ADDRESS_SPACE_BYTES
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    seen: dict[str, int] = {}
    stats = {"inputs": 0, "findings": 0, "slow": 0, "start": time.monotonic()}

    def one_input(data: bytes) -> None:
        if stats["inputs"] == 0:
            bound_memory()
        stats["inputs"] += 1
        if stats["inputs"] % 10000 == 0:
            report()
        started = time.monotonic()
        try:
            with quiet(), time_bound():
                check(data)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            sig = signature(exc)
            seen[sig] = seen.get(sig, 0) + 1
            stats["findings"] += 1
            if seen[sig] == 1:
                digest = hashlib.sha1(data).hexdigest()[:12]
                stem = f"{sig.replace(':', '_').replace('@', '-')}-{digest}"
                (findings_dir / f"{stem}.bin").write_bytes(data)
                (findings_dir / f"{stem}.txt").write_text(
                    "".join(traceback.format_exception(exc)), encoding="utf-8"
                )
                print(f"FINDING {target} {sig} ({len(data)} bytes) -> {stem}", file=sys.stderr)
        elapsed = time.monotonic() - started
        if elapsed > SLOW_S:
            stats["slow"] += 1
            digest = hashlib.sha1(data).hexdigest()[:12]
            (slow_dir / f"{elapsed:.1f}s-{digest}.bin").write_bytes(data)

    def report() -> None:
        took = time.monotonic() - stats["start"]
        print(
            f"SUMMARY {target} inputs={stats['inputs']} seconds={took:.0f} "
            f"exec_per_s={stats['inputs'] / max(took, 1e-9):.1f} findings={stats['findings']} "
            f"distinct={len(seen)} slow={stats['slow']} signatures={sorted(seen)}",
            file=sys.stderr,
        )

    atexit.register(report)
    args = list(sys.argv)
    if not any(a.startswith("-timeout=") for a in args):
        args.append(f"-timeout={int(TIME_BOUND_S * 3)}")
    if not any(a.startswith("-rss_limit_mb=") for a in args):
        args.append(f"-rss_limit_mb={ADDRESS_SPACE_BYTES // 1024**2}")
    atheris.Setup(args, one_input)
    atheris.Fuzz()
