#!/usr/bin/env bash
# Install the Stethos .deb into a fresh root and run the frozen app's self-test
# with networking disabled.
#
#   packaging/smoke_test.sh [DEB]
#
# Without DEB it takes dist/stethos_*.deb, building it first (packaging/build.sh)
# when there is none. Steps: `dpkg -x` into a temporary root (a real `dpkg -i`
# needs a disposable machine; `dpkg -x` unpacks the same files), check the
# package's layout (launchers, desktop entry, icons, user data not in the
# package), then run `stethos --self-test` and `stethos-engine self-test --json`
# inside `unshare -rn` (a new network namespace: no interface but a downed
# loopback) with an empty HOME, no DISPLAY and a clean environment. The
# self-test verifies every bundled model's hashes, opens every sample study
# (JPEG 2000 and JPEG-LS among them, so the decoder plugins must be inside),
# runs each model once, writes and reads an encrypted store, loads the Qt
# platform/image plugins and the translation. Exit 0 only if everything passes;
# otherwise the failing check is named.
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=cuda
if [ "${1:-}" = "--flavour" ]; then
    flavour=${2:?--flavour cuda|cpu}
    shift 2
fi
case $flavour in
    cuda) pkg=stethos ;;
    cpu) pkg=stethos-cpu ;;
    *) echo "usage: $0 [--flavour cuda|cpu] [DEB]" >&2; exit 2 ;;
esac
deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(ls -t dist/${pkg}_*.deb 2>/dev/null | head -1 || true)
    if [ -z "$deb" ]; then
        packaging/build.sh --flavour "$flavour"
        deb=$(ls -t dist/${pkg}_*.deb | head -1)
    fi
fi
[ -f "$deb" ] || { echo "FAIL: no package at $deb" >&2; exit 1; }
deb=$(readlink -f "$deb")

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
home=$tmp/home
mkdir -p "$root" "$home"

echo "== package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | grep -E "Package|Version|Installed-Size" || fail "not a Debian package"
dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -q postrm || fail "no postrm script in the package"
dpkg -x "$deb" "$root" || fail "dpkg -x could not unpack $deb"

echo "== layout"
for path in opt/stethos/stethos opt/stethos/stethos-engine; do
    [ -x "$root/$path" ] || fail "$path missing or not executable"
done
for link in usr/bin/stethos usr/bin/stethos-engine; do
    [ -L "$root/$link" ] || fail "$link is not a symlink"
    target=$(readlink "$root/$link")
    [ -x "$root/usr/bin/$target" ] || fail "$link points to $target, which is not in the package"
done
[ -f "$root/usr/share/applications/stethos.desktop" ] || fail "desktop entry missing"
[ -f "$root/usr/share/icons/hicolor/256x256/apps/stethos.png" ] || fail "icon missing"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$root/usr/share/applications/stethos.desktop" || fail "desktop entry invalid"
fi
if dpkg-deb -c "$deb" | grep -E "\./(home|root|var/lib)/" ; then
    fail "the package ships files in user-data locations"
fi
dangling=$(find "$root/opt/stethos" -type l ! -exec test -e {} \; -print)
[ -z "$dangling" ] || fail "links to nothing in the package: $dangling"
installed=$(du -sh "$root" | cut -f1)
installed_mib=$(du -sm "$root" | cut -f1)
echo "installed size: $installed ($installed_mib MiB, $flavour flavour)"
if [ "$flavour" = cpu ]; then
    # The CPU flavour: no PyTorch, no CUDA, and small enough for a clinic to download.
    # Issue 29 asks for <= 400 MiB: 398 MiB (packaging/README.md, "Size of the CPU flavour").
    limit=${STETHOS_CPU_FLAVOUR_LIMIT_MIB:-400}
    [ "$installed_mib" -le "$limit" ] || fail "the CPU flavour installs $installed_mib MiB (limit $limit)"
    for lib in torch nvidia torchvision; do
        [ ! -e "$root/opt/stethos/_internal/$lib" ] || fail "the CPU flavour contains $lib"
    done
fi

# Networking off: a new user + network namespace has only a downed loopback.
if unshare -rn true 2>/dev/null; then
    NOnet=(unshare -rn)
elif [ "${STETHOS_SMOKE_ALLOW_NETWORK:-0}" = 1 ]; then
    echo "warning: unshare -rn is not permitted here; running WITH the network" >&2
    NOnet=()
else
    fail "unshare -rn is not permitted here (set STETHOS_SMOKE_ALLOW_NETWORK=1 to run anyway)"
fi
if [ ${#NOnet[@]} -gt 0 ]; then
    "${NOnet[@]}" sh -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null && fail "the namespace still has a network"
fi

run() {
    env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        "${NOnet[@]}" "$@"
}

echo "== stethos --self-test (frozen, no network)"
run "$root/usr/bin/stethos" --self-test || fail "stethos --self-test failed (see the lines above)"

echo "== stethos-engine self-test --json (frozen, no network)"
run "$root/usr/bin/stethos-engine" self-test --json > "$tmp/selftest.json" \
    || { cat "$tmp/selftest.json"; fail "stethos-engine self-test failed"; }
python3 - "$tmp/selftest.json" "$flavour" <<'PY' || fail "self-test JSON does not show every check passing"
import json, sys
report = json.load(open(sys.argv[1]))
checks = report
bad = [c for c in checks if not c["ok"]]
names = " ".join(c["check"] for c in checks)
for needed in ("j2k", "jls"):
    assert needed in names, f"no sample with {needed} in the self-test"
(workers,) = [c["detail"] for c in checks if c["check"] == "DICOM: decoding workers"]
assert "fork server" in workers, f"series decoding workers: {workers!r}"
assert not bad, bad
(flavour,) = [c["detail"] for c in checks if c["check"] == "flavour: compute device"]
stated = "CPU flavour" if sys.argv[2] == "cpu" else "full flavour"
assert flavour.startswith(stated), f"the self-test states {flavour!r}, not the {stated}"
print(f"{len(checks)} checks passed; {flavour}")
PY

if [ "$flavour" = cpu ]; then
    echo "== stethos-engine train (CPU flavour: says it needs the full flavour)"
    if run "$root/usr/bin/stethos-engine" train heart > "$tmp/train.txt" 2>&1; then
        fail "train ran in the CPU flavour"
    fi
    grep -q "full flavour" "$tmp/train.txt" || { cat "$tmp/train.txt"; fail "train did not name the full flavour"; }
fi

echo "PASS: $(basename "$deb") installs and passes its self-test offline"
