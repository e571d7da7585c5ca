"""Per-field contributions for tabular models of any kind (trees, SVMs, pipelines).

Interventional Shapley values (the quantity KernelSHAP estimates): a
field's contribution is its average marginal effect on the model's output
over every coalition of the other fields, fields outside the coalition
taking their values from a background sample of training records. With
up to :data:`EXACT_MAX_PLAYERS` fields they are computed exactly by
enumerating all coalitions (13 fields: 8,192), so

* they sum exactly to ``f(record) − mean f(background)``, and
* for a linear model on the log-odds scale they equal
  ``w_j (x_j − mean(background_j))``, the exact linear contributions.

Beyond that, antithetic permutation sampling with a fixed seed is used
(still summing exactly). Only numpy and the model's own ``predict_proba``
are needed; the fields are the record's fields, not the one-hot columns a
pipeline makes of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

from engine.progress import CancelToken, check_cancelled

EXACT_MAX_PLAYERS = 14
#: Rows evaluated per model call.
CHUNK_ROWS = 65536


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values with the quantities they add up between."""

    values: np.ndarray
    base_value: float
    output: float
    exact: bool


def _evaluate(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    background: np.ndarray,
    masks: np.ndarray,
    cols: Sequence[np.ndarray],
    cancel: CancelToken | None,
) -> np.ndarray:
    """Mean output over the background for each coalition mask ``(m, p)`` bool."""
    k = len(background)
    out = np.empty(len(masks))
    per = max(1, CHUNK_ROWS // k)
    for start in range(0, len(masks), per):
        check_cancelled(cancel)
        block = masks[start : start + per]
        rows = np.repeat(background[None, :, :], len(block), axis=0)
        for j, c in enumerate(cols):
            sel = np.flatnonzero(block[:, j])
            if len(sel):
                rows[np.ix_(sel, np.arange(k), c)] = x[c]
        values = np.asarray(f(rows.reshape(-1, x.shape[0])), dtype=np.float64)
        out[start : start + len(block)] = values.reshape(len(block), k).mean(axis=1)
    return out


def shapley_values(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    background: np.ndarray,
    groups: Sequence[Sequence[int]] | None = None,
    *,
    n_permutations: int = 256,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> ShapleyResult:
    """Interventional Shapley values of ``f`` at ``x`` against ``background``.

    Parameters
    ----------
    f
        Maps rows ``(m, d)`` to outputs ``(m,)`` (a probability or log-odds).
    x
        The record ``(d,)``, in ``f``'s input columns (``nan`` allowed if
        ``f`` imputes).
    background
        Reference records ``(k, d)``; 20–100 rows is typical.
    groups
        Columns of each player (field); default one player per column.
    n_permutations
        Permutations (each used with its reverse) when there are more than
        :data:`EXACT_MAX_PLAYERS` players.
    seed
        Seed of the permutation sampler.

    Returns
    -------
    ShapleyResult
        ``values`` ``(p,)`` with ``values.sum() == output − base_value``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    bg = np.asarray(background, dtype=np.float64)
    if bg.ndim != 2 or bg.shape[1] != x.shape[0] or len(bg) == 0:
        raise ValueError("background must be (k, d) with the record's d columns")
    if groups is None:
        groups = [[j] for j in range(len(x))]
    cols = [np.asarray(g, dtype=np.int64) for g in groups]
    p = len(cols)
    if p <= EXACT_MAX_PLAYERS:
        n_masks = 1 << p
        codes = np.arange(n_masks, dtype=np.int64)
        masks = ((codes[:, None] >> np.arange(p)[None, :]) & 1).astype(bool)
        v = _evaluate(f, x, bg, masks, cols, cancel)
        size = masks.sum(axis=1)
        # weight of a coalition S (without i) of size s: s! (p-s-1)! / p!
        w_by_size = np.array([1.0 / (p * comb(p - 1, s)) for s in range(p)])
        phi = np.zeros(p)
        for i in range(p):
            without = ~masks[:, i]
            s_codes = codes[without]
            phi[i] = np.sum(w_by_size[size[without]] * (v[s_codes | (1 << i)] - v[s_codes]))
        return ShapleyResult(phi, float(v[0]), float(v[-1]), True)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(p) for _ in range(max(1, n_permutations // 2))]
    perms += [perm[::-1] for perm in perms]
    masks = np.zeros((len(perms) * (p + 1), p), dtype=bool)
    for r, perm in enumerate(perms):
        for step in range(1, p + 1):
            masks[r * (p + 1) + step, perm[:step]] = True
    v = _evaluate(f, x, bg, masks, cols, cancel).reshape(len(perms), p + 1)
    phi = np.zeros(p)
    for r, perm in enumerate(perms):
        phi[perm] += np.diff(v[r])
    phi /= len(perms)
    return ShapleyResult(phi, float(v[0, 0]), float(v[0, -1]), False)
