"""``stethos``: start the desktop application.

Heavy libraries (torch, scikit-learn) are not imported before the main window
is shown; they load on first use, on a worker thread.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

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
        relay.raised.emit(message, details)

    sys.excepthook = report

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        report(args.exc_type, args.exc_value, args.exc_traceback)

    threading.excepthook = thread_hook


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stethos", description="Stethos diagnosis workstation")
    parser.add_argument("paths", nargs="*", help="DICOM files or folders to open")
    parser.add_argument(
        "--open-sample", action="store_true", help="open the bundled sample chest radiograph"
    )
    parser.add_argument(
        "--quit-after-show", action="store_true", help="exit once the window is shown (smoke test)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stethos``."""
    import multiprocessing

    # Series decoding uses worker processes; a frozen app must not re-run main in them.
    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log_path = setup_logging()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Stethos")
    app.setOrganizationName("Stethos")
    from desktop.gc_guard import MainThreadGarbageCollector

    gc_guard = MainThreadGarbageCollector(app)  # noqa: F841 - lives with the app
    from desktop.settings import apply_startup_preferences

    apply_startup_preferences(app)  # settings.ini: translator, theme
    window = MainWindow()
    install_exception_hooks(window)
    window.show()
    log.info("Stethos started; log at %s", log_path)
    if args.paths:
        window.open_paths([Path(p) for p in args.paths])
    elif args.open_sample:
        window.open_sample()
    if args.quit_after_show:
        QTimer.singleShot(0, window.close)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
