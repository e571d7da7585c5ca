"""Where torch models run: CUDA, Apple MPS or the CPU, with a fallback on OOM.

``"auto"`` picks CUDA when available, else MPS, else the CPU. A CUDA
out-of-memory error during a run moves the model to the CPU, runs again and
records a notice with the result; the device actually used is recorded with
every result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from engine.errors import ModelError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
T = TypeVar("T")

CPU_FALLBACK_NOTICE = (
    "The graphics card ran out of memory, so this result was computed on the CPU "
    "(slower, same result)."
)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Devices usable in this installation, best first (always ends with ``"cpu"``)."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(preference: str | None = "auto") -> torch.device:
    """The torch device for a user preference.

    Parameters
    ----------
    preference
        ``"auto"`` (or ``None``), ``"cpu"``, ``"cuda"`` (optionally
        ``"cuda:N"``) or ``"mps"``. The ``STETHOS_DEVICE`` environment
        variable replaces ``"auto"``.

    Raises
    ------
    ModelError
        When the requested device is not available here.
    """
    import torch

    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        pref = os.environ.get("STETHOS_DEVICE", "auto").strip().lower() or "auto"
    if pref == "auto":
        return torch.device(available_devices()[0])
    base = pref.split(":", 1)[0]
    if base not in DEVICE_CHOICES:
        raise ModelError(
            f"“{preference}” is not a device Stethos knows. Choose auto, cpu, cuda or mps."
        )
    if base == "cuda" and not torch.cuda.is_available():
        raise ModelError(
            "A CUDA graphics card was requested but none is available. Choose “auto” or “cpu”."
        )
    if base == "mps" and not _mps_available():
        raise ModelError(
            "Apple's GPU (MPS) was requested but is not available. Choose “auto” or “cpu”."
        )
    return torch.device(pref)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a GPU out-of-memory error."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and "out of memory" in text


@dataclass
class DeviceState:
    """A runner's current device; becomes the CPU after a fallback."""

    device: torch.device
    notice: str | None = None

    @property
    def name(self) -> str:
        return str(self.device)


def run_with_fallback(
    state: DeviceState,
    run: Callable[[torch.device], T],
    move_to_cpu: Callable[[], None],
) -> T:
    """Call ``run(device)``; on CUDA OOM, free memory, move to the CPU and call again.

    ``state`` is updated (device becomes CPU, ``notice`` set) so later calls
    of the same runner stay on the CPU.
    """
    try:
        return run(state.device)
    except Exception as exc:
        if state.device.type == "cpu" or not is_out_of_memory(exc):
            raise
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        move_to_cpu()
        state.device = torch.device("cpu")
        state.notice = CPU_FALLBACK_NOTICE
        return run(state.device)


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (``STETHOS_TORCH_THREADS`` or ``n``); return the count.

    By default torch uses every core. A workstation also runs the viewer
    and its decoders, and torch's OpenMP threads wait for each other: on a
    busy two-core machine two threads were measured 4–9× slower than one
    (DenseNet-121 forward, 360–780 ms vs 77–86 ms). So the default leaves
    one core free (at least one thread).
    """
    import torch

    env = os.environ.get("STETHOS_TORCH_THREADS")
    if n is None and env:
        try:
            n = int(env)
        except ValueError:
            n = None
    if n is None:
        cores = os.cpu_count() or 1
        n = cores - 1
    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
