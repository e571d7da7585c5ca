"""The engine/desktop boundary, enforced (like napari's import-linter contracts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_views_do_not_reach_into_engine_internals():
    """Views call engine work through desktop/tasks.py and desktop/jobs.py."""
    pattern = re.compile(r"^\s*(from|import)\s+engine\.(models\.(tabular|bundle)|train)\b", re.M)
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "desktop").rglob("*.py")
        if p.name not in {"tasks.py"} and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


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
