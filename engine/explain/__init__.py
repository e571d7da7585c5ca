"""Explanations: Grad-CAM, signal saliency, tabular contributions.

* :mod:`engine.explain.cam` — Grad-CAM and Grad-CAM++ for CNNs, mapped back
  to the source image's geometry.
* :mod:`engine.explain.signal` — integrated gradients and occlusion over
  beat windows, laid back onto the record's samples.
* :mod:`engine.explain.tabular` — interventional Shapley values per record
  field for any scikit-learn model (exact up to 14 fields).

Only numpy and torch are used; see each module for the method and its
reference.
"""
