"""Explanations: Grad-CAM, signal saliency, tabular contributions.

* :mod:`engine.explain.cam` — Grad-CAM and Grad-CAM++ for CNNs, mapped back
  to the source image's geometry.
* :mod:`engine.explain.signal` — integrated gradients and occlusion over
  beat windows, laid back onto the record's samples.
* :mod:`engine.explain.tabular` — interventional Shapley values per record
  field for any scikit-learn model (exact up to 14 fields).

Only numpy and torch are used; see each module for the method and its
reference. :mod:`engine.explain.colours` holds the heat-map colours
(numpy only), shared by the viewer and the derived images Stethos writes.
"""

from engine.explain.colours import FADE_BELOW, TURBO_LUT, burn_in, turbo

__all__ = ["FADE_BELOW", "TURBO_LUT", "burn_in", "turbo"]
