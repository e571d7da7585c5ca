"""What the frozen app carries but never loads, and how the build leaves it out (issue 29).

Used by ``stethos.spec`` (at freeze time) and ``build.sh`` (on the frozen
folder); each step keeps what the app reads at run time equal to what it was:

* :func:`without_binaries` drops Qt plugins the app never loads and the shared
  libraries only they needed (found through the libraries' link-time imports);
* :func:`compact_json` rewrites a package's JSON table without its indentation
  (``json.loads`` gives the same object), :func:`gzip_file` compresses one
  (highdicom's 22 MB module table, which engine/dicom/_hd_tables.py reads);
* :func:`trim_icu_data` rebuilds Qt's ICU data library without the parts of
  the data Qt never reads (Qt Core calls only ICU's collation, converter,
  case-mapping and calendar/time-zone APIs: ``nm -D --undefined-only
  libQt6Core.so.6``), so that the trimmed library answers those calls
  exactly as the full one (tests/packaging/test_trim.py compares them), except
  for time-zone display names in languages the interface does not speak;
* :func:`dedupe` replaces identical copies of a file in the frozen folder by
  relative symbolic links (``stethos-engine`` is then a link to ``stethos``:
  packaging/launcher.py picks the program by the name it was started as).

Run as ``python packaging/trim.py dedupe DIR`` (build.sh does).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

# Qt plugins Stethos never loads: platforms for framebuffers, VNC and Vulkan
# displays (a clinic workstation runs X11 or Wayland; the self-test uses
# offscreen), the evdev/TUIO input plugins those platforms use, the GTK platform
# theme (it loads the system's GTK 3 next to the bundled GLib, pango and cairo;
# without it Qt draws its own file dialogs), and network-status plugins (Stethos
# imports no Qt networking module; its DICOM networking is pynetdicom).
UNUSED_QT_PLUGINS = (
    "platforms/libqeglfs",
    "platforms/libqlinuxfb",
    "platforms/libqminimalegl",
    "platforms/libqvnc",
    "platforms/libqvkkhrdisplay",
    "egldeviceintegrations/",
    "generic/",
    "platformthemes/libqgtk3",
    "networkinformation/",
    "tls/",
)

# ICU data trees Qt never reads. Kept: coll/ (QCollator), the converters and
# their alias table (QStringConverter), zone/ and region/ with the root locale
# data and supplemental tables (QTimeZone display names through ucal_*), and
# the small normalisation/property files. Dropped: break iterators and their
# dictionaries, transliterators, number spell-out rules, the display names of
# units, currencies and languages, and the Unicode character names.
UNUSED_ICU_ITEMS = ("brkitr/", "translit/", "rbnf/", "unit/", "curr/", "lang/", "unames.icu")
# Locale data of the time-zone, region and calendar names (zone/xx.res, region/xx.res, xx.res)
# is kept for the languages Stethos's interface speaks; in any other locale a time-zone
# *display name* (QTimeZone::displayName, a long-format date's zone) falls back to English.
# Stethos shows neither (its dates are formatted by Python), and the collation tailorings
# (coll/), case mapping and converters of every language stay: sorting, upper/lower case
# and decoding are the same in every locale (tests/packaging/test_trim.py). 6.6 MiB.
ICU_LOCALES_KEPT = ("en", "zh")
_ICU_LOCALE_ITEM = re.compile(r"^(?:zone/|region/)?([a-z]{2,3})(?:_[A-Za-z0-9]+)*\.res$")


def unused_icu_item(item: str, drop: Sequence[str] = UNUSED_ICU_ITEMS) -> bool:
    """Whether the ICU data item ``item`` (``coll/de.res``, ``zone/fr.res``...) is left out."""
    if item.startswith(tuple(drop)):
        return True
    locale = _ICU_LOCALE_ITEM.match(item)
    return locale is not None and locale[1] not in ICU_LOCALES_KEPT


# Libraries the Debian package's Depends: (linux/control.in) already install, with the
# distribution's fonts, X11 and D-Bus set-up: taken from the system, not bundled (a
# bundled fontconfig reading a newer system's configuration is a known PyInstaller
# trouble). libmvec is part of the C library (libc6). libcups (printing, Qt's print
# plugin) comes with the system's CUPS set-up and takes its GnuTLS, Kerberos and Avahi
# libraries with it (8.5 MiB).
SYSTEM_LIBRARIES = (
    "libcups",
    "libX11",
    "libX11-xcb",
    "libxcb",
    "libxcb-cursor",
    "libxcb-icccm",
    "libxcb-image",
    "libxcb-keysyms",
    "libxcb-randr",
    "libxcb-render",
    "libxcb-render-util",
    "libxcb-shape",
    "libxcb-shm",
    "libxcb-sync",
    "libxcb-util",
    "libxcb-xfixes",
    "libxcb-xinerama",
    "libxcb-xkb",
    "libxkbcommon",
    "libxkbcommon-x11",
    "libfontconfig",
    "libfreetype",
    "libdbus-1",
    "libmvec",
)


def system_library(dest_name: str) -> bool:
    """Whether a collected file is one of :data:`SYSTEM_LIBRARIES` (top level of the bundle only)."""
    if os.path.dirname(dest_name):
        return False  # a package's own copy (e.g. pillow.libs/libxcb-<hash>.so) stays
    return os.path.basename(dest_name).split(".so", 1)[0] in SYSTEM_LIBRARIES


def unused_data(dest_name: str) -> bool:
    """Test suites' data collected with a package's data (jpeg_ls/tests, sklearn/datasets/tests)."""
    return "tests" in Path(dest_name).parts[:-1]


def qt_plugin_unused(dest_name: str) -> bool:
    """Whether a collected file is one of :data:`UNUSED_QT_PLUGINS`."""
    path = dest_name.replace(os.sep, "/")
    if "/Qt/plugins/" not in path:
        return False
    rel = path.split("/Qt/plugins/", 1)[1]
    return rel.startswith(UNUSED_QT_PLUGINS)


def elf_needed(path: str) -> list[str]:
    """The libraries an ELF file links against directly (its ``NEEDED`` entries)."""
    done = subprocess.run(["readelf", "-d", path], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\).*\[(.*)\]", done.stdout) if done.returncode == 0 else []


def without_binaries(
    binaries: Sequence[tuple[str, str, str]],
    drop: Callable[[str], bool],
    imports: Callable[[str], Iterable[str]],
) -> list[tuple[str, str, str]]:
    """``binaries`` (PyInstaller's TOC) less those ``drop`` matches and the libraries only they needed.

    ``imports(source_path)`` names the libraries a binary links against
    directly. A library ``drop`` does not name is removed only if a dropped
    binary needed it (directly or through others) and nothing kept does:
    libraries the app loads by name at run time (never imported by a dropped
    binary) are never touched. ``SYMLINK`` entries (PyInstaller's links to a
    library from another folder) go with the library they point to.
    """
    real = [e for e in binaries if e[2] != "SYMLINK"]
    by_name: dict[str, list[tuple[str, str, str]]] = {}
    for entry in real:
        by_name.setdefault(os.path.basename(entry[0]), []).append(entry)
    needs: dict[str, list[tuple[str, str, str]]] = {}
    dropped = {e[0] for e in real if drop(e[0])}

    def closure(roots: Iterable[tuple[str, str, str]], skip: set[str]) -> set[str]:
        seen: set[str] = set()
        stack = [e for e in roots if e[0] not in skip]
        while stack:
            entry = stack.pop()
            if entry[0] in seen:
                continue
            seen.add(entry[0])
            if entry[0] not in needs:
                needs[entry[0]] = [
                    e for name in imports(entry[1]) for e in by_name.get(os.path.basename(name), [])
                ]
            stack.extend(e for e in needs[entry[0]] if e[0] not in skip)
        return seen

    if not dropped:
        return list(binaries)
    candidates = closure((e for e in real if e[0] in dropped), set())
    still_needed = closure((e for e in real if e[0] not in candidates), dropped)
    gone = dropped | (candidates - still_needed)

    def kept(entry: tuple[str, str, str]) -> bool:
        if entry[2] != "SYMLINK":
            return entry[0] not in gone
        target = os.path.normpath(os.path.join(os.path.dirname(entry[0]), entry[1]))
        return target not in gone

    return [e for e in binaries if kept(e)]


def without_dangling_links(
    toc: Sequence[tuple[str, str, str]], others: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """``toc`` less the ``SYMLINK`` entries that point to nothing collected (in ``toc`` or ``others``)."""
    collected = {os.path.normpath(e[0]) for e in (*toc, *others) if e[2] != "SYMLINK"}

    def target(entry: tuple[str, str, str]) -> str:
        return os.path.normpath(os.path.join(os.path.dirname(entry[0]), entry[1]))

    return [e for e in toc if e[2] != "SYMLINK" or target(e) in collected]


def compact_json(source: Path, target: Path) -> Path:
    """Write ``source``'s JSON to ``target`` without indentation; the parsed object is unchanged."""
    data = json.loads(source.read_text(encoding="utf-8"))
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    target.write_text(text, encoding="utf-8")
    return target


def gzip_file(source: Path, target: Path) -> Path:
    """Write ``source`` gzip-compressed to ``target`` (no time stamp: the same bytes every build)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))
    return target


def _icu_symbol(library: Path) -> tuple[str, int, int]:
    """The data symbol of an ICU data library (name, file offset, size)."""
    symbols = subprocess.run(
        ["readelf", "-Ws", "--dyn-syms", str(library)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(
        r"\s([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+OBJECT\s+GLOBAL\s+\S+\s+\S+\s+(icudt\d+_dat)", symbols
    )
    if not match:
        raise ValueError(f"{library} has no icudtNN_dat symbol")
    address, size, name = int(match[1], 16), int(match[2], 0), match[3]
    sections = subprocess.run(
        ["readelf", "-SW", str(library)], capture_output=True, text=True, check=True
    ).stdout
    for line in sections.splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 5 and fields[1] == ".rodata":
            section_address, section_offset = int(fields[3], 16), int(fields[4], 16)
            return name, address - section_address + section_offset, size
    raise ValueError(f"{library} has no .rodata section")


def icu_tools_available() -> bool:
    """icupkg (Debian: icu-devtools), readelf and a C compiler are on the PATH."""
    return all(shutil.which(tool) for tool in ("icupkg", "readelf", "cc"))


def trim_icu_data(library: Path, workdir: Path, drop: Sequence[str] = UNUSED_ICU_ITEMS) -> Path:
    """A copy of the ICU data library ``library`` without the items under ``drop``, nor
    the locale data of languages other than :data:`ICU_LOCALES_KEPT` (:func:`unused_icu_item`).

    The data is cut out of the library's ``icudtNN_dat`` symbol, items are
    removed with ``icupkg``, and the rest is linked into a new shared library
    with the same file name, soname and symbol. Returns its path in ``workdir``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    symbol, offset, size = _icu_symbol(library)
    prefix = symbol[: -len("_dat")] + "l"  # icudt73l: the item prefix of little-endian data
    # icupkg wants a data file named after its item prefix: the full and the trimmed
    # data go into two folders.
    (workdir / "full").mkdir(exist_ok=True)
    (workdir / "trimmed").mkdir(exist_ok=True)
    full = workdir / "full" / f"{prefix}.dat"
    with open(library, "rb") as fh:
        fh.seek(offset)
        full.write_bytes(fh.read(size))
    items = subprocess.run(
        ["icupkg", "-l", str(full)], capture_output=True, text=True, check=True
    ).stdout.split()
    removed = [item for item in items if unused_icu_item(item, drop)]
    listing = workdir / "removed.txt"
    listing.write_text("\n".join(removed) + "\n", encoding="utf-8")
    trimmed = workdir / "trimmed" / f"{prefix}.dat"
    subprocess.run(
        ["icupkg", "-r", str(listing), str(full), str(trimmed)], capture_output=True, check=True
    )
    source = workdir / "icudata.S"
    source.write_text(
        f"""\t.section .rodata
\t.balign 16
\t.globl {symbol}
\t.type {symbol}, @object
{symbol}:
\t.incbin "{trimmed}"
\t.size {symbol}, . - {symbol}
\t.section .note.GNU-stack,"",@progbits
""",
        encoding="utf-8",
    )
    out = workdir / library.name
    soname = subprocess.run(
        ["readelf", "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"SONAME.*\[(.*)\]", soname)
    flags = [f"-Wl,-soname,{found[1]}"] if found else []
    subprocess.run(
        ["cc", "-shared", "-nostdlib", "-s", *flags, "-o", str(out), str(source)],
        capture_output=True,
        check=True,
    )
    return out


def dedupe(root: Path, min_size: int = 64 * 1024) -> list[tuple[Path, Path]]:
    """Replace identical files under ``root`` by relative links to the first (by path) copy.

    Returns the (link, target) pairs made. Files smaller than ``min_size`` are left as they are.
    """
    by_size: dict[int, list[Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        size = path.stat().st_size
        if size >= min_size:
            by_size.setdefault(size, []).append(path)
    made: list[tuple[Path, Path]] = []
    for paths in by_size.values():
        if len(paths) < 2:
            continue
        first: dict[str, Path] = {}
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest not in first:
                first[digest] = path
                continue
            target = first[digest]
            path.unlink()
            path.symlink_to(os.path.relpath(target, path.parent))
            made.append((path, target))
    return made


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "dedupe":
        made = dedupe(Path(argv[1]))
        saved = sum(t.stat().st_size for _, t in made)
        for link, target in made:
            sys.stdout.write(
                f"  {link.relative_to(argv[1])} -> {os.path.relpath(target, link.parent)}\n"
            )
        sys.stdout.write(f"{len(made)} duplicate files linked, {saved / 2**20:.1f} MiB saved\n")
        return 0
    sys.stderr.write("usage: trim.py dedupe DIR\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
