"""The engine/desktop boundary, enforced (like napari's import-linter contracts)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_IMPORT_ALL_ENGINE_WITHOUT_QT = r"""
import importlib, pkgutil, sys
sys.modules["PySide6"] = None  # any attempt to import Qt now fails
import engine
failed = []
for info in pkgutil.walk_packages(engine.__path__, "engine."):
    try:
        importlib.import_module(info.name)
    except ImportError as exc:
        failed.append(f"{info.name}: {exc}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_importing_engine_does_not_import_qt_or_heavy_libraries():
    code = (
        "import sys, engine, engine.api, engine.records, engine.models; "
        "bad = [m for m in ('PySide6', 'desktop', 'torch', 'sklearn') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_engine_module_imports_without_qt():
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL_ENGINE_WITHOUT_QT],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_engine_sources_and_engine_tests_never_mention_qt():
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|desktop|pytestqt)\b", re.M)
    offenders = []
    for folder in (REPO / "engine", REPO / "tests" / "engine"):
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if pattern.search(text) or "qtbot" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def _engine_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every ``import engine…`` / ``from engine… import names`` in a file, with its line."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "engine" or node.module.startswith("engine."):
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "engine" or alias.name.startswith("engine."):
                    found.append((node.lineno, alias.name, []))
    return found


def test_the_desktop_uses_only_the_engines_public_modules_and_names():
    """``from engine.workflow import analyze`` yes; ``engine.models.registry`` or ``_run`` no.

    import-linter checks the modules too (``make test``); this also checks the names.
    """
    offenders = []
    for path in sorted((REPO / "desktop").rglob("*.py")):
        for line, module, names in _engine_imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if module.count(".") > 1:
                offenders.append(f"{where} imports {module} (deeper than engine.X)")
            if module.split(".")[1:2] in (["models"], ["train"], ["validation"], ["cli"], ["api"]):
                offenders.append(f"{where} imports {module} (use engine.workflow)")
            offenders += [
                f"{where} imports the private name {n}"
                for n in names
                if n[:1] == "_" and not n.startswith("__")
            ]
    assert offenders == []


def test_no_module_over_800_lines_and_no_class_over_500():
    too_big = []
    for folder in ("engine", "desktop"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            name = str(path.relative_to(REPO))
            if (lines := text.count("\n")) > 800:
                too_big.append(f"{name}: {lines} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ClassDef):
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    if size > 500:
                        too_big.append(f"{name}: class {node.name} {size} lines")
    assert too_big == []


def test_import_layers_hold():
    """The import-linter contracts of pyproject.toml (layers, no cycles, desktop → public API)."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed (make test installs it)")
    done = subprocess.run([str(exe)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_opening_the_main_window_does_not_pull_in_heavy_libraries(tmp_path):
    """The window must appear fast: torch, scikit-learn and scipy load on first use."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from desktop.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "bad = [m for m in ('torch', 'sklearn', 'scipy', 'wfdb') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_CONFIG_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
