"""Entry point of the frozen application (PyInstaller).

One executable serves both programs of the installation:

* ``stethos [PATHS...] [--open-sample] [--self-test]`` starts the desktop app;
* ``stethos-engine ARGS...`` runs the command line, e.g. ``stethos-engine
  self-test --json``; ``stethos --engine ARGS...`` does the same.

``stethos-engine`` is the second executable of the build (Windows needs a console
one), or on Linux a symbolic link to ``stethos`` (packaging/build.sh: one copy of
the ~27 MB byte-code archive instead of two). The program is picked by the name
it was started as (``argv[0]``, which keeps a link's name) or the executable's.

``multiprocessing.freeze_support()`` comes first: series decoding starts worker
processes, which re-enter this executable and must not start the app.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()
    names = {os.path.splitext(os.path.basename(p))[0] for p in (sys.argv[0], sys.executable)}
    if "stethos-engine" in names or (len(sys.argv) > 1 and sys.argv[1] == "--engine"):
        from engine.cli import main as engine_main

        args = sys.argv[1:]
        return engine_main(args[1:] if args[:1] == ["--engine"] else args)
    from desktop.app import main as app_main

    return app_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
