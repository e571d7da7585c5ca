"""Explanations: Grad-CAM, signal saliency, tabular contributions."""
