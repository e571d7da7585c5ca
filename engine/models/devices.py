"""Where torch models run: CUDA, Apple MPS or the CPU, with a fallback on OOM.

``"auto"`` picks CUDA when available, else MPS, else the CPU. A CUDA
out-of-memory error during a run moves the model to the CPU, runs again and
records a notice with the result; the device actually used is recorded with
every result.

The first ``import torch`` of a process, wherever it comes from (a model
runner here, or scikit-learn's array-API shim under a record model), first
maps torch's native libraries with the GIL released (:func:`preload_torch`):
``import torch`` maps them while holding the GIL, which froze every other
thread, the UI thread included, for 130–310 ms on a two-core machine.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


def thread_count(n: int | None = None) -> int:
    """Threads a model pass uses: ``n``, else ``STETHOS_TORCH_THREADS``, else cores − 1 (≥ 1).

    The same count serves torch and ONNX Runtime (see :func:`configure_threads`).
    """
    env = os.environ.get("STETHOS_TORCH_THREADS")
    if n is None and env:
        try:
            n = int(env)
        except ValueError:
            n = None
    if n is None:
        cores = os.cpu_count() or 1
        n = cores - 1
    return max(1, int(n))


def gpu_may_be_present() -> bool:
    """Whether a GPU torch could use may be here, found without importing torch.

    CUDA needs NVIDIA's kernel driver (``/proc/driver/nvidia`` on Linux,
    ``nvcuda.dll`` on Windows); on macOS Apple's GPU (MPS) may be there.
    """
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")
    if sys.platform == "win32":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.exists(os.path.join(root, "System32", "nvcuda.dll"))
    return sys.platform == "darwin"


def torch_installed() -> bool:
    """Whether torch can be imported here, found without importing (or preloading) it.

    (``importlib.util.find_spec`` would run :class:`_PreloadTorchFirst`, which
    maps torch's libraries: hundreds of MiB.)
    """
    if "torch" in sys.modules:
        return True
    for finder in list(sys.meta_path):  # the path finder, and a frozen app's own importer
        find = getattr(finder, "find_spec", None)
        if finder is _PreloadTorchFirst or find is None:
            continue
        try:
            if find("torch", None) is not None:
                return True
        except (ImportError, ValueError, TypeError):
            continue
    return False


def flavour() -> str:
    """Which installation this is: ``"full"`` (PyTorch inside) or ``"cpu"`` (ONNX Runtime only)."""
    return "full" if torch_installed() else "cpu"


def device_name(preference: str | None = "auto") -> str:
    """:func:`resolve_device` as a string, without importing torch where the answer is the CPU.

    ``auto`` is the CPU when torch is not installed or no GPU driver is
    present; otherwise torch decides (and is imported).
    """
    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        pref = os.environ.get("STETHOS_DEVICE", "auto").strip().lower() or "auto"
    if pref == "cpu":
        return "cpu"
    if not torch_installed():
        if pref == "auto":
            return "cpu"
        raise ModelError(
            "A graphics card was requested, but this installation (the CPU flavour of Stethos) "
            "does not include PyTorch, which runs models on it. Choose “auto” or “cpu”, or "
            "use the full Stethos installation."
        )
    if pref == "auto" and not gpu_may_be_present():
        return "cpu"
    return str(resolve_device(pref))


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (``STETHOS_TORCH_THREADS`` or ``n``); return the count.

    By default torch uses every core. A workstation also runs the viewer
    and its decoders, and torch's OpenMP threads wait for each other: on a
    busy two-core machine two threads were measured 4–9× slower than one
    (DenseNet-121 forward, 360–780 ms vs 77–86 ms). So the default leaves
    one core free (at least one thread).
    """
    import torch

    n = thread_count(n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


# --- mapping torch's native libraries without the GIL ------------------------------------
#: The CUDA component libraries torch 2.x preloads, in its order (``torch/__init__.py``,
#: ``_preload_cuda_deps``): the copies found here win the sonames libtorch links against.
_CUDA_COMPONENTS = (
    ("cublas", "libcublasLt.so.*[0-9]"),
    ("cublas", "libcublas.so.*[0-9]"),
    ("cudnn", "libcudnn.so.*[0-9]"),
    ("cuda_nvrtc", "libnvrtc.so.*[0-9]"),
    ("cuda_nvrtc", "libnvrtc-builtins.so.*[0-9]"),
    ("cuda_runtime", "libcudart.so.*[0-9]"),
    ("cuda_cupti", "libcupti.so.*[0-9]"),
    ("cufft", "libcufft.so.*[0-9]"),
    ("curand", "libcurand.so.*[0-9]"),
    ("nvjitlink", "libnvJitLink.so.*[0-9]"),
    ("cusparse", "libcusparse.so.*[0-9]"),
    ("cusparselt", "libcusparseLt.so.*[0-9]"),
    ("cusolver", "libcusolver.so.*[0-9]"),
    ("nccl", "libnccl.so.*[0-9]"),
    ("nvshmem", "libnvshmem_host.so.*[0-9]"),
    ("cufile", "libcufile.so.*[0-9]"),
    ("nvtx", "libnvToolsExt.so.*[0-9]"),
)
_preload_lock = threading.Lock()
_preloaded: bool | None = None


def _dlopen() -> Callable[[bytes, int], int | None]:
    """libc's ``dlopen`` through ctypes: a foreign call, so it runs with the GIL released.

    (``ctypes.CDLL`` itself, which torch uses, keeps the GIL while the library
    maps and its static initialisers run.)
    """
    import ctypes

    try:
        fn = ctypes.CDLL(None).dlopen
    except AttributeError:  # glibc < 2.34: dlopen lives in libdl
        fn = ctypes.CDLL("libdl.so.2").dlopen
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return fn


def _cuda_major(torch_dir: Path) -> str | None:
    """The CUDA major version torch was built for, read from ``torch/version.py`` (no import)."""
    try:
        text = (torch_dir / "version.py").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"^cuda\b[^=\n]*=\s*['\"](\d+)", text, re.MULTILINE)
    return found.group(1) if found else None


def _cuda_component(folder: str, pattern: str, cuda_major: str | None) -> str | None:
    """Where torch's ``_get_cuda_dep_paths`` finds a component: the first ``sys.path`` hit."""
    for entry in sys.path:
        found = glob.glob(os.path.join(entry, "nvidia", folder, "lib", pattern))
        if cuda_major is not None:
            found += glob.glob(os.path.join(entry, "nvidia", f"cu{cuda_major}", "lib", pattern))
        found += glob.glob(os.path.join(entry, folder, "lib", pattern))
        if found:
            return found[0]
    return None


def _torch_dir() -> Path | None:
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def preload_torch() -> bool:
    """Map torch's native libraries now, with the GIL released; True if they are mapped.

    Loads what ``import torch`` loads, in its order and with its flags, before
    it runs: ``libtorch_global_deps`` (global symbols), on CUDA builds the CUDA
    component libraries torch preloads, then ``libtorch`` (CPU and CUDA
    kernels, their static initialisers). ``import torch`` then finds them
    mapped and only runs its Python-binding set-up, which still holds the
    GIL. Linux only (elsewhere, or with ``STETHOS_TORCH_PRELOAD=0``, or when
    torch is imported or missing, it does nothing and returns False); any
    failure leaves the rest to ``import torch`` as before.
    """
    global _preloaded
    if (
        not sys.platform.startswith("linux")
        or "torch" in sys.modules
        or os.environ.get("STETHOS_TORCH_PRELOAD", "1").strip() == "0"
    ):
        return False
    with _preload_lock:
        if _preloaded is None:
            _preloaded = False
            try:
                _preloaded = _map_torch_libraries()
            except Exception:  # leave everything to import torch
                _preloaded = False
        return _preloaded


def _map_torch_libraries() -> bool:
    torch_dir = _torch_dir()
    if torch_dir is None:
        return False
    lib = torch_dir / "lib"
    if not (lib / "libtorch.so").is_file():
        return False
    dlopen = _dlopen()
    global_deps = lib / "libtorch_global_deps.so"
    if global_deps.is_file():
        if not dlopen(os.fsencode(global_deps), os.RTLD_NOW | os.RTLD_GLOBAL):
            return False
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
        if "libcudart.so" in maps:  # a CUDA build: torch preloads its components next
            major = _cuda_major(torch_dir)
            for folder, pattern in _CUDA_COMPONENTS:
                path = _cuda_component(folder, pattern, major)
                if path is not None and not dlopen(os.fsencode(path), os.RTLD_NOW):
                    return False
    return bool(dlopen(os.fsencode(lib / "libtorch.so"), os.RTLD_NOW))


class _PreloadTorchFirst:
    """A ``sys.meta_path`` entry that runs :func:`preload_torch` before the first ``import torch``.

    It finds nothing itself (the normal finders import torch) and removes
    itself after that first time.
    """

    @classmethod
    def find_spec(cls, name: str, path=None, target=None) -> None:
        if name == "torch":
            try:
                sys.meta_path.remove(cls)  # type: ignore[arg-type]
            except ValueError:
                pass
            preload_torch()
        return None


def install_torch_preload() -> None:
    """Have the first ``import torch`` of the process preload its libraries without the GIL."""
    if "torch" not in sys.modules and _PreloadTorchFirst not in sys.meta_path:
        sys.meta_path.insert(0, _PreloadTorchFirst)  # type: ignore[arg-type]


install_torch_preload()
