"""What the installers leave out (packaging/trim.py) changes nothing the app reads.

Each trimming step is checked against the untrimmed original: Qt's ICU data
library answers Qt's collation, time-zone, case and codec calls exactly as the
full one (both loaded into a real PySide6 process), highdicom's compacted and
gzip-compressed module table loads to the same table, the library pruning
keeps what any kept binary needs, and duplicate files become links.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("stethos_trim", ROOT / "packaging" / "trim.py")
assert _spec is not None and _spec.loader is not None
trim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trim)

# Qt's ICU-backed calls, as Stethos (or Qt's own widgets: the file dialog sorts with
# QCollator, dates show zone names) can reach them; printed as JSON to compare.
QT_ICU_PROBE = textwrap.dedent(
    """
    import functools, json, sys
    from PySide6.QtCore import (QByteArray, QCollator, QDate, QDateTime, QLocale,
                                QStringConverter, QStringDecoder, QTime, QTimeZone)

    out = {"icudata": sorted({l.split()[-1] for l in open("/proc/self/maps") if "libicudata" in l})}
    words = ["Zhang Wei", "zhang wei", "张伟", "李娜", "王芳", "刘洋", "陈静", "file10", "file2",
             "File1", "Ärzte", "Arzt", "Zebra", "éclair", "eclair", "Ωmega", "żółw", "ß", "ss"]
    for name in ["en_US", "zh_CN", "de_DE", "sv_SE", "C"]:
        for numeric in (False, True):
            c = QCollator(QLocale(name))
            c.setNumericMode(numeric)
            out[f"sort {name} {numeric}"] = sorted(words, key=functools.cmp_to_key(c.compare))
    T, N = QTimeZone.TimeType, QTimeZone.NameType
    for loc in ["en_US", "zh_CN", "de_DE"]:
        for zone in [b"Europe/Berlin", b"Asia/Shanghai", b"America/New_York", b"UTC"]:
            tz = QTimeZone(zone)
            for tt in (T.StandardTime, T.DaylightTime, T.GenericTime):
                for nt in (N.LongName, N.ShortName, N.OffsetName, N.DefaultName):
                    key = f"tz {loc} {zone.decode()} {tt.name} {nt.name}"
                    out[key] = tz.displayName(tt, nt, QLocale(loc))
        when = QDateTime(QDate(2026, 7, 1), QTime(12, 30), QTimeZone(b"Europe/Berlin"))
        out[f"datetime {loc}"] = QLocale(loc).toString(when, QLocale.FormatType.LongFormat)
    for loc in ["en_US", "tr_TR", "el_GR", "lt_LT"]:
        out[f"upper {loc}"] = QLocale(loc).toUpper("istanbul straße άδεια i̇")
        out[f"lower {loc}"] = QLocale(loc).toLower("İSTANBUL ΆΔΕΙΑ I")
    for codec in ["GBK", "GB18030", "Big5", "Shift_JIS", "EUC-KR", "windows-1252",
                  "ISO-8859-5", "KOI8-R", "ISO-2022-JP", "nonsense"]:
        dec = QStringDecoder(codec)
        out[f"codec {codec}"] = [dec.isValid(), dec.name()]
    html = QStringDecoder.decoderForHtml(QByteArray(b'<meta charset="gb2312">'))
    out["codec html"] = [html.isValid(), html.name()]
    out["codecs"] = QStringConverter.availableCodecs()
    json.dump(out, sys.stdout, ensure_ascii=False)
    """
)


def _qt_icu_answers(preload: Path | None) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    done = subprocess.run(
        [sys.executable, "-c", QT_ICU_PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ICU data library: Linux")
@pytest.mark.skipif(
    not trim.icu_tools_available(), reason="icupkg (Debian: icu-devtools) or cc missing"
)
def test_trimmed_icu_data_answers_qts_calls_as_the_full_data(tmp_path) -> None:
    pytest.importorskip("PySide6")
    import PySide6

    full = next((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    trimmed = trim.trim_icu_data(full, tmp_path)
    assert trimmed.stat().st_size < 0.6 * full.stat().st_size
    reference, answers = _qt_icu_answers(None), _qt_icu_answers(trimmed)
    # The trimmed library is the one Qt used, and the full data really was read.
    assert answers.pop("icudata") == [str(trimmed)]
    assert reference.pop("icudata") == [str(full)]
    assert reference["sort zh_CN False"][:3] == ["陈静", "李娜", "刘洋"]  # pinyin order
    assert reference["sort de_DE False"] != reference["sort sv_SE False"]  # tailorings differ
    assert (
        reference["tz de_DE Europe/Berlin StandardTime LongName"] == "Mitteleuropäische Normalzeit"
    )
    # Time-zone display names of languages the interface does not speak fall back to
    # English (ICU_LOCALES_KEPT); every other answer is the same, in every locale.
    german = [k for k in reference if k.startswith(("tz de_DE", "datetime de_DE"))]
    assert (
        answers["tz de_DE Europe/Berlin StandardTime LongName"]
        == (reference["tz en_US Europe/Berlin StandardTime LongName"])
    )
    assert answers["datetime de_DE"].startswith("Mittwoch, 1. Juli 2026")  # Qt's own CLDR data
    for key in german:
        reference.pop(key), answers.pop(key)
    assert answers == reference


def test_only_locale_data_of_other_languages_is_left_out_beyond_the_unused_trees() -> None:
    left_out = trim.unused_icu_item
    assert left_out("zone/de.res") and left_out("region/fr_CA.res") and left_out("ja.res")
    assert left_out("brkitr/word.brk") and left_out("unames.icu")
    kept = ["zone/en.res", "zone/zh_Hans_CN.res", "en_GB.res", "zh.res", "root.res", "pool.res",
            "zone/root.res", "zoneinfo64.res", "supplementalData.res", "coll/de.res",
            "coll/sv.res", "ibm-1252_P100-2000.cnv", "cnvalias.icu", "uts46.nrm"]  # fmt: skip
    assert [item for item in kept if left_out(item)] == []


def test_icu_items_qt_reads_are_kept() -> None:
    kept = ("coll/", "zone/", "region/", "cnvalias.icu", "supplementalData.res", "root.res")
    assert not [k for k in kept if k.startswith(trim.UNUSED_ICU_ITEMS)]


def test_without_binaries_drops_only_what_the_dropped_plugins_alone_needed() -> None:
    imports = {
        "plugins/theme.so": ["libgtk.so", "libcairo.so", "libglib.so"],
        "plugins/xcb.so": ["libqtgui.so", "libglib.so"],
        "libgtk.so": ["libcairo.so", "libglib.so"],
        "libcairo.so": ["libpng.so"],
        "libqtgui.so": ["libglib.so"],
        "ext/_imaging.so": ["libpng.so"],
        "libpng.so": [],
        "libglib.so": [],
        "libloaded_by_name.so": [],  # dlopen()ed: nothing links it
    }
    binaries = [(name, f"/src/{name}", "BINARY") for name in imports]
    kept = trim.without_binaries(
        binaries, lambda dest: dest == "plugins/theme.so", lambda src: imports[src[5:]]
    )
    assert {d for d, _, _ in kept} == {
        "plugins/xcb.so",
        "libqtgui.so",
        "libglib.so",
        "ext/_imaging.so",
        "libpng.so",  # also needed by a kept extension
        "libloaded_by_name.so",
    }


def test_without_binaries_drops_a_named_library_still_linked_and_its_links() -> None:
    """A system library is left out even though kept binaries link it (the system has it)."""
    imports = {
        "plugins/xcb.so": ["libX11.so.6", "libQt6Gui.so.6"],
        "Qt/lib/libQt6Gui.so.6": ["libfreetype.so.6", "libz.so.1"],
        "libX11.so.6": ["libxcb.so.1"],
        "libxcb.so.1": [],
        "libfreetype.so.6": ["libpng16.so.16", "libz.so.1"],
        "libpng16.so.16": ["libz.so.1"],
        "libz.so.1": [],
        "plugins/net.so": ["Qt/lib/libQt6Network.so.6"],
        "Qt/lib/libQt6Network.so.6": [],
    }
    binaries = [(name, f"/src/{name}", "BINARY") for name in imports] + [
        ("libQt6Gui.so.6", "Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6Network.so.6", "Qt/lib/libQt6Network.so.6", "SYMLINK"),
    ]

    def drop(dest: str) -> bool:
        return dest in ("libX11.so.6", "libfreetype.so.6", "plugins/net.so")

    kept = trim.without_binaries(binaries, drop, lambda src: imports[src[5:]])
    assert {d for d, _, _ in kept} == {
        "plugins/xcb.so",
        "Qt/lib/libQt6Gui.so.6",
        "libQt6Gui.so.6",  # the link to a kept library stays
        "libz.so.1",  # Qt links it too
    }


def test_links_to_nothing_collected_are_dropped() -> None:
    binaries = [
        ("Qt/lib/libQt6Gui.so.6", "/src/gui", "BINARY"),
        ("libQt6Gui.so.6", "Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6Network.so.6", "Qt/lib/libQt6Network.so.6", "SYMLINK"),
        ("pkg/libdata.so", "../data/blob", "SYMLINK"),
    ]
    datas = [("data/blob", "/src/blob", "DATA")]
    kept = trim.without_dangling_links(binaries, datas)
    assert [d for d, _, _ in kept] == ["Qt/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "pkg/libdata.so"]


def test_plugin_library_and_data_choices() -> None:
    assert trim.qt_plugin_unused("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    assert trim.qt_plugin_unused("PySide6/Qt/plugins/tls/libqopensslbackend.so")
    for kept in ("platforms/libqxcb.so", "platforms/libqwayland.so", "platforms/libqoffscreen.so",
                 "platforms/libqminimal.so", "imageformats/libqjpeg.so",
                 "printsupport/libcupsprintersupport.so",
                 "platforminputcontexts/libibusplatforminputcontextplugin.so",
                 "platformthemes/libqxdgdesktopportal.so"):  # fmt: skip
        assert not trim.qt_plugin_unused(f"PySide6/Qt/plugins/{kept}"), kept
    assert trim.system_library("libfontconfig.so.1") and trim.system_library("libxcb-xkb.so.1")
    assert not trim.system_library("pillow.libs/libxcb-ad31f5a3.so.1.1.0")
    assert not trim.system_library("libpython3.11.so.1.0")
    assert trim.unused_data("jpeg_ls/tests/data/a.jls")
    assert not trim.unused_data("highdicom/_standard/sop_class_iod_map.json")


def test_highdicom_table_compacted_and_compressed_loads_the_same(tmp_path) -> None:
    """The installers' highdicom table: warm_tables reads the .gz where the JSON is absent."""
    hd = importlib.util.find_spec("highdicom")
    assert hd is not None and hd.origin is not None
    package = Path(hd.origin).parent
    copy = tmp_path / "site" / "highdicom"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    table = copy / "_standard" / "module_attribute_map.json"
    compact = trim.compact_json(table, tmp_path / "compact" / table.name)
    trim.gzip_file(compact, table.with_name(table.name + ".gz"))
    table.unlink()
    assert table.with_name(table.name + ".gz").stat().st_size < 1_000_000
    check = textwrap.dedent(
        f"""
        import json, sys
        from highdicom import _standard_utils as su
        assert su.__file__.startswith({str(copy)!r}), su.__file__
        from engine.dicom._hd_tables import warm_tables
        warm_tables()
        table = su.get_module_attribute_map()
        reference = json.load(open({str(package / "_standard" / table.name)!r}, encoding="utf-8"))
        assert set(table) == set(reference)
        assert all(list(table[k]) == reference[k] for k in reference)
        assert su.is_attribute_in_iod("PatientName", "1.2.840.10008.5.1.4.1.1.66.4")
        print("same", len(table))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(copy.parent), str(ROOT)]))
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("same ")


def test_read_package_data_prefers_the_file_and_falls_back_to_gz(tmp_path, monkeypatch) -> None:
    from engine.dicom._hd_tables import read_package_data

    pkg = tmp_path / "stethos_trim_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.json").write_bytes(b'{"plain": 1}')
    (pkg / "b.json.gz").write_bytes(gzip.compress(b'{"packed": 2}'))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert read_package_data("stethos_trim_probe", "a.json") == b'{"plain": 1}'
    assert read_package_data("stethos_trim_probe", "b.json") == b'{"packed": 2}'
    with pytest.raises(FileNotFoundError):
        read_package_data("stethos_trim_probe", "c.json")


def test_compact_json_parses_to_the_same_object(tmp_path) -> None:
    source = tmp_path / "t.json"
    source.write_text(json.dumps({"a": [{"k": "值", "p": []}], "b": 1.5}, indent=2), "utf-8")
    out = trim.compact_json(source, tmp_path / "out" / "t.json")
    assert json.loads(out.read_text("utf-8")) == json.loads(source.read_text("utf-8"))
    assert out.stat().st_size < source.stat().st_size


def test_dedupe_links_identical_files(tmp_path) -> None:
    blob = os.urandom(70_000)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "stethos").write_bytes(blob)
    (tmp_path / "stethos-engine").write_bytes(blob)
    (tmp_path / "a" / "lib.so").write_bytes(blob[::-1])
    (tmp_path / "b" / "lib.so").write_bytes(blob[::-1])
    (tmp_path / "b" / "other.so").write_bytes(os.urandom(70_000))
    made = trim.dedupe(tmp_path)
    assert len(made) == 2
    assert os.readlink(tmp_path / "stethos-engine") == "stethos"
    assert os.readlink(tmp_path / "b" / "lib.so") == os.path.join("..", "a", "lib.so")
    assert (tmp_path / "b" / "lib.so").read_bytes() == blob[::-1]
    assert not (tmp_path / "b" / "other.so").is_symlink()
