"""Engine calls of the result panel, run through :mod:`desktop.jobs`."""

from __future__ import annotations

from engine.progress import CancelToken, Progress, check_cancelled, no_progress


def load_model_card(
    model_id: str, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> str:
    """The Markdown model card of an installed model (its hashes are checked first)."""
    from engine.api import model_card

    check_cancelled(cancel)
    progress(0.0, f"Reading the model card of {model_id}")
    text = model_card(model_id)
    progress(1.0, "")
    return text
