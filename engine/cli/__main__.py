"""``python -m engine.cli``: the same as ``stethos-engine``."""

from engine.cli import main

raise SystemExit(main())
