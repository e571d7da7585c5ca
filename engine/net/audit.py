"""The network audit trail: every query, retrieve, receive and send, one JSON line each.

Kept in ``net-audit.jsonl`` in the user's data folder, appended (never
rewritten), with who (the operating-system user), what, which node, which
study, how many instances and the result. The desktop also records network
work in the patient store's audit log when someone is signed in.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from engine.resources import user_data_dir

_lock = threading.Lock()


def audit_file() -> Path:
    return user_data_dir() / "net-audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def audit(action: str, node: str, *, study: str = "", count: int | None = None,
          result: str = "ok", detail: str = "") -> None:  # fmt: skip
    """Append one entry (errors writing the trail are logged, never raised to the caller)."""
    entry: dict[str, Any] = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "user": _user(), "action": action,
        "node": node, "study": study, "count": count, "result": result, "detail": detail,
    }  # fmt: skip
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    path = audit_file()
    with _lock:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            import logging

            logging.getLogger(__name__).exception("network audit entry not written: %s", line)


def entries(path: Path | None = None) -> list[dict[str, Any]]:
    """Every entry of the trail, oldest first."""
    p = path or audit_file()
    if not p.is_file():
        return []
    return [json.loads(ln) for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
