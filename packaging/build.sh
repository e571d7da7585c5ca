#!/usr/bin/env bash
# Build Stethos for Linux: the PyInstaller one-folder app (dist/stethos/) and a
# Debian package (dist/stethos_<version>_<arch>.deb).
#
#   packaging/build.sh                  # freeze, then package (the full, CUDA flavour)
#   packaging/build.sh --flavour cpu    # the CPU flavour: no PyTorch (dist/stethos-cpu/,
#                                       # dist/stethos-cpu_<version>_<arch>.deb)
#   packaging/build.sh --deb-only       # package an existing dist/stethos/ (or -cpu)
#
# Needs the project's .venv with the `package` extra (make package does both),
# dpkg-deb (Debian/Ubuntu). Prints the build time and the sizes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
DIST=$ROOT/dist
WORK=$ROOT/build
flavour=cuda
freeze=1
while [ $# -gt 0 ]; do
    case $1 in
        --deb-only) freeze=0 ;;
        --flavour) flavour=${2:?--flavour cuda|cpu}; shift ;;
        *) echo "usage: $0 [--flavour cuda|cpu] [--deb-only]" >&2; exit 2 ;;
    esac
    shift
done
case $flavour in
    cuda) PKG=stethos; OTHER=stethos-cpu
          FLAVOUR_TEXT="Everything is under /opt/stethos (Python, Qt, PyTorch with its CUDA
 libraries, ONNX Runtime, the models and sample studies)." ;;
    cpu)  PKG=stethos-cpu; OTHER=stethos
          FLAVOUR_TEXT="This is the CPU flavour: models run on the CPU with ONNX Runtime; it
 has no PyTorch (no GPU use, no training: install the stethos package for
 those). Everything is under /opt/stethos (Python, Qt, ONNX Runtime, the
 models and sample studies)." ;;
    *) echo "error: --flavour is cuda or cpu, not $flavour" >&2; exit 2 ;;
esac
APP=$DIST/$PKG

t0=$(date +%s)
if [ $freeze = 1 ]; then
    echo "== freezing with PyInstaller (dist/$PKG/, $flavour flavour)"
    STETHOS_FLAVOUR=$flavour "$PY" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$DIST" --workpath "$WORK/pyinstaller-$flavour" packaging/stethos.spec
fi
[ -x "$APP/stethos" ] || { echo "error: $APP/stethos is missing; run without --deb-only" >&2; exit 1; }
if [ $freeze = 1 ] && [ "$flavour" = cpu ]; then
    # The CPU flavour's size is what a clinic downloads: drop the symbol tables of the
    # extension modules and libraries (~55 MiB). Not those auditwheel patched (hashed
    # names, *.libs folders: strip breaks their relocated segments) nor Qt's.
    echo "== stripping symbols (CPU flavour)"
    find "$APP/_internal" -type f -name '*.so*' ! -path '*.libs/*' ! -path '*/PySide6/Qt/*' \
        ! -regex '.*-[0-9a-f]\{8\}\.so.*' -exec strip --strip-unneeded {} + 2>/dev/null || true
fi
if [ $freeze = 1 ]; then
    # Identical files once: stethos-engine becomes a link to stethos (the two executables
    # carry the same ~27 MB byte-code archive; launcher.py picks the program by the name it
    # was started as), and the copies of NumPy's Fortran runtime next to SciPy's.
    echo "== linking identical files"
    "$PY" packaging/trim.py dedupe "$APP"
fi
t1=$(date +%s)

VERSION=$("$PY" -c "import engine; print(engine.__version__)")
ARCH=$(dpkg --print-architecture)
DEB=$DIST/${PKG}_${VERSION}_${ARCH}.deb
STAGE=$WORK/deb/$PKG
echo "== staging the Debian package ($VERSION, $ARCH)"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/usr/share/doc/stethos"
# Hard links: the staging tree costs no space or copy time (falls back to a copy).
cp -al "$APP" "$STAGE/opt/stethos" 2>/dev/null || cp -a "$APP" "$STAGE/opt/stethos"
ln -s ../../opt/stethos/stethos "$STAGE/usr/bin/stethos"
ln -s ../../opt/stethos/stethos-engine "$STAGE/usr/bin/stethos-engine"
install -m 644 packaging/linux/stethos.desktop "$STAGE/usr/share/applications/stethos.desktop"
for size in 16 32 48 64 128 256; do
    dir="$STAGE/usr/share/icons/hicolor/${size}x${size}/apps"
    mkdir -p "$dir"
    install -m 644 "resources/icons/stethos-$size.png" "$dir/stethos.png"
done
mkdir -p "$STAGE/usr/share/icons/hicolor/scalable/apps"
install -m 644 resources/icons/stethos.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/stethos.svg"
install -m 644 packaging/linux/copyright "$STAGE/usr/share/doc/stethos/copyright"
install -m 644 resources/samples/ATTRIBUTION.md "$STAGE/usr/share/doc/stethos/SAMPLES-ATTRIBUTION.md"
for script in postinst postrm; do
    install -m 755 "packaging/linux/$script" "$STAGE/DEBIAN/$script"
done
installed_kb=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
    -e "s/@PACKAGE@/$PKG/" -e "s/@CONFLICTS@/$OTHER/" packaging/linux/control.in |
    "$PY" -c 'import sys; print(sys.stdin.read().replace("@FLAVOUR@", sys.argv[1]), end="")' \
        "$FLAVOUR_TEXT" > "$STAGE/DEBIAN/control"

echo "== building $DEB"
# zstd: fast to build and to install for a multi-GB payload (dpkg >= 1.21.18, Debian 12, Ubuntu 21.10+).
dpkg-deb --root-owner-group -Zzstd -z9 --build "$STAGE" "$DEB" >/dev/null
t2=$(date +%s)

echo
echo "build time      : freeze $((t1 - t0)) s, package $((t2 - t1)) s, total $((t2 - t0)) s"
echo "dist/$PKG/   : $(du -sh "$APP" | cut -f1)"
echo "installed size  : $((installed_kb / 1024)) MiB"
echo "installer (.deb): $(du -h "$DEB" | cut -f1)  $DEB"
