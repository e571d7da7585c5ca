"""Make packaging/windows/stethos.ico from resources/icons/stethos-*.png.

Run on the build machine before PyInstaller (Pillow is a dependency of the
project): ``python packaging/windows/make_ico.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SIZES = (16, 32, 48, 64, 128, 256)

if __name__ == "__main__":
    images = [Image.open(ROOT / "resources" / "icons" / f"stethos-{s}.png") for s in SIZES]
    out = Path(__file__).with_name("stethos.ico")
    images[-1].save(out, sizes=[(s, s) for s in SIZES], append_images=images[:-1])
    print(out)
