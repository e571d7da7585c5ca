"""The study browser: patients → studies → series, with thumbnails and recent studies."""
