"""``stethos``: start the desktop application.

Heavy libraries (torch, scikit-learn) are not imported before the main window
is shown; they load on first use, on a worker thread.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import cast

log = logging.getLogger("stethos")


def setup_logging() -> Path | None:
    """Rotating log file under the user log folder (1 MiB × 5)."""
    from engine.resources import user_log_dir

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        folder = user_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "stethos.log"
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1 << 20, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        logging.basicConfig(level=logging.INFO)
        log.warning("cannot write the log file: %s", exc)
        return None
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    return path


def install_exception_hooks(window) -> None:
    """Route uncaught exceptions (any thread) to the log and an error dialog."""
    from PySide6.QtCore import QObject, Signal

    from desktop.dialogs.error import show_error

    class _Relay(QObject):
        raised = Signal(str, str)

    relay = _Relay(window)

    def show(message: str, details: str) -> None:
        window.last_error = show_error(window, window.tr("Stethos"), message, details)

    relay.raised.connect(show)

    def report(exc_type, exc, tb) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception\n%s", details)
        message = getattr(exc, "user_message", None) or (
            "An unexpected problem occurred. Stethos keeps running; details were written to the log."
        )
        try:
            relay.raised.emit(message, details)
        except RuntimeError:  # the window is already gone (quitting): the log has it
            pass

    sys.excepthook = report

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        report(args.exc_type, args.exc_value, args.exc_traceback)

    threading.excepthook = thread_hook


def self_test() -> int:
    """Installation check: the engine's checks plus Qt's (plugins, window, translation)."""
    import os

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from engine.selftest import Check, format_checks, run_check, run_self_test

    checks: list[Check] = run_self_test()

    def qt_window() -> str:
        from PySide6.QtWidgets import QApplication

        from desktop.main_window import MainWindow

        # Stethos only ever creates a QApplication (a widgets app).
        app = cast("QApplication | None", QApplication.instance()) or QApplication(sys.argv[:1])
        window = MainWindow()
        window.show()
        app.processEvents()
        name = app.platformName()
        window.close()
        return f"main window shown on the '{name}' platform plugin"

    def qt_translation() -> str:
        from PySide6.QtCore import QTranslator

        from engine.resources import resource_path

        path = resource_path("translations", "stethos_zh_CN.qm")
        translator = QTranslator()
        if not translator.load(str(path)):
            raise RuntimeError(f"cannot load {path}")
        return "Simplified Chinese translation loads"

    def qt_images() -> str:
        from PySide6.QtGui import QImageReader

        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        missing = {"png", "jpg"} - formats
        if missing:
            raise RuntimeError(f"Qt image plugins missing: {', '.join(sorted(missing))}")
        return f"{len(formats)} image formats"

    checks += [
        run_check("qt: window", qt_window),
        run_check("qt: translation", qt_translation),
        run_check("qt: image formats", qt_images),
    ]
    print(format_checks(checks))
    return 0 if all(c.ok for c in checks) else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stethos", description="Stethos diagnosis workstation")
    parser.add_argument(
        "paths", nargs="*",
        help="DICOM files, folders or DICOMDIRs, WFDB records (.hea), DICOM ECGs or PNG/JPEG "
        "pictures to open",
    )  # fmt: skip
    parser.add_argument(
        "--open-sample", action="store_true", help="open the bundled sample chest radiograph"
    )
    parser.add_argument(
        "--quit-after-show", action="store_true", help="exit once the window is shown (smoke test)"
    )
    parser.add_argument(
        "--quit-after-open",
        action="store_true",
        help="exit once the files given have been opened (smoke and quit tests)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation (models, samples, decoders, Qt, store) and exit 0 or 1",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stethos``."""
    import multiprocessing

    # Series decoding uses worker processes; a frozen app must not re-run main in them.
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        return self_test()
    # Start-up imports create a few hundred thousand objects that live as long as the
    # process; scanning them as they come cost ~100 collections (10-15 ms) before the first
    # paint. The guard (MainThreadGarbageCollector, below) collects from then on.
    gc.disable()
    log_path = setup_logging()

    from desktop.platform_check import missing_message, missing_packages, uses_xcb

    missing = missing_packages() if uses_xcb() else []
    if missing:
        print(missing_message(missing), file=sys.stderr)
        return 3

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow

    # Stethos only ever creates a QApplication (a widgets app).
    app = cast("QApplication | None", QApplication.instance()) or QApplication(sys.argv[:1])
    app.setApplicationName("Stethos")
    app.setOrganizationName("Stethos")
    app.setDesktopFileName("stethos")  # matches the installed stethos.desktop
    from PySide6.QtGui import QIcon

    from engine.resources import resource_path

    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        icon.addFile(str(resource_path("icons", f"stethos-{size}.png")))
    app.setWindowIcon(icon)
    from desktop.gc_guard import MainThreadGarbageCollector

    gc_guard = MainThreadGarbageCollector(app)  # noqa: F841 - lives with the app
    from desktop.settings import apply_startup_preferences

    apply_startup_preferences(app)  # settings.ini: translator, theme
    if args.quit_after_show or args.quit_after_open:
        import os

        os.environ["STETHOS_WARM_UP"] = "0"  # the window closes at once: no model warm-up
    window = MainWindow(paint_first=True)  # the rest is built once the sample is on screen
    install_exception_hooks(window)
    from desktop.settings import restore_window_layout

    restore_window_layout(window)  # size, position and docks as they were left
    window.show()
    log.info("Stethos started; log at %s", log_path)
    if args.paths:
        window.open_paths([Path(p) for p in args.paths])
    elif args.open_sample:
        window.open_sample()
    if args.quit_after_show:
        QTimer.singleShot(0, window.close)
    elif args.quit_after_open and (args.paths or args.open_sample):
        from engine.filetypes import WFDB_SUFFIXES

        def shown_then_close() -> None:
            # What was opened is drawn before the window closes: a queued close alone could
            # run before the viewer's (low-priority) paint.
            window.viewer.repaint()
            QTimer.singleShot(0, window.close)

        # Images open on the viewer's jobs, ECG records on the ECG panel's: wait for each
        # that took something (a record alone never finished an image job: it waited forever).
        runners = [window.image_jobs]
        if any(Path(p).suffix.lower() in WFDB_SUFFIXES for p in args.paths):
            runners.append(window.ecg.jobs)
        pending = [runner for runner in runners if runner.busy]
        left = [len(pending)]

        def one_opened() -> None:
            left[0] -= 1
            if left[0] == 0:
                shown_then_close()

        for runner in pending:
            runner.finished.connect(one_opened)
        if not pending:
            shown_then_close()
    code = int(app.exec())
    # The window has closed (layout saved, jobs waited for, store closed). The interpreter's
    # last collection would scan every object left, ~70 ms after a start-up whose imports the
    # guard has not frozen yet (it freezes import bursts on its first check): the process ends,
    # the memory goes back to the system without it.
    gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
