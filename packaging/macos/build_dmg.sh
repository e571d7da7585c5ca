#!/usr/bin/env bash
# macOS recipe: Stethos.app and a .dmg from the same PyInstaller spec.
# Must run on macOS (iconutil, hdiutil); it cannot run on the Linux build machine.
#
#   python3.11 -m venv .venv && .venv/bin/pip install -e '.[package]'
#   packaging/macos/build_dmg.sh
#
# torch on macOS has no CUDA: models run on Apple's MPS when available
# (engine.models.devices picks it), else the CPU.
# Sign and notarise before giving it to a clinic (codesign --deep --options
# runtime; xcrun notarytool submit --wait); unsigned apps are blocked by Gatekeeper.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname)" = Darwin ] || { echo "error: build_dmg.sh runs on macOS only" >&2; exit 1; }
PY=${PY:-.venv/bin/python}
VERSION=$("$PY" -c "import engine; print(engine.__version__)")

iconset=build/stethos.iconset
rm -rf "$iconset" && mkdir -p "$iconset"
for s in 16 32 128 256; do
    cp "resources/icons/stethos-$s.png" "$iconset/icon_${s}x${s}.png"
done
cp resources/icons/stethos-32.png "$iconset/icon_16x16@2x.png"
cp resources/icons/stethos-64.png "$iconset/icon_32x32@2x.png"
cp resources/icons/stethos-256.png "$iconset/icon_128x128@2x.png"
iconutil -c icns "$iconset" -o packaging/macos/stethos.icns

"$PY" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/stethos.spec
dmg=dist/Stethos-$VERSION.dmg
rm -f "$dmg"
hdiutil create -volname "Stethos $VERSION" -srcfolder dist/Stethos.app -ov -format UDZO "$dmg"
echo "$dmg"
