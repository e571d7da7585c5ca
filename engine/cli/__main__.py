"""``python -m engine.cli``: the same as ``stethos-engine``."""

from engine.cli import main

if __name__ == "__main__":  # not when a tool walks the package and imports every module
    raise SystemExit(main())
