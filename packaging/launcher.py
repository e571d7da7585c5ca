"""Entry point of the frozen application (PyInstaller).

One executable serves both programs of the installation:

* ``stethos [PATHS...] [--open-sample] [--self-test]`` starts the desktop app;
* ``stethos-engine ARGS...`` (the second executable of the build, made from the
  same analysis) runs the command line, e.g. ``stethos-engine self-test --json``;
  ``stethos --engine ARGS...`` does the same.

``multiprocessing.freeze_support()`` comes first: series decoding starts worker
processes, which re-enter this executable and must not start the app.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()
    program = os.path.splitext(os.path.basename(sys.executable))[0]
    if program == "stethos-engine" or (len(sys.argv) > 1 and sys.argv[1] == "--engine"):
        from engine.cli import main as engine_main

        args = sys.argv[1:]
        return engine_main(args[1:] if args[:1] == ["--engine"] else args)
    from desktop.app import main as app_main

    return app_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
