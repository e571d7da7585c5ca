"""Screenshots of the reading-room viewer for the docs, taken under Xvfb.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Runs the real main window on the X11 (xcb) platform inside a virtual
display: it starts itself again under ``xvfb-run`` (Debian package
``xvfb``; Qt's xcb plugin also needs ``libxcb-icccm4``, ``libxcb-keysyms1``,
``libxcb-cursor0``, ``libxkbcommon-x11-0``), unless ``$DISPLAY`` is already
set. ``--offscreen`` uses Qt's offscreen platform instead (no X server).

Saves:

- ``cxr-heatmap.png`` — a sample chest radiograph (a child's, when the
  pediatric samples are installed) analysed by the default image model,
  Grad-CAM heat map with legend and outline, result panel;
- ``cxr-out-of-domain.png`` — an adult CR sample whose age is not recorded,
  analysed by the same model: the out-of-domain banner, no result;
- ``ct-measurements.png`` — a synthetic CT series (clearly marked
  SYNTHETIC) with distance, angle and region measurements, HU statistics;
- ``dicomdir-browser.png`` — pydicom's test DICOMDIR in the study browser;
- ``tag-browser.png`` and ``shortcuts.png`` — the two dialogs;
- ``ecg-12-lead-beats.png`` / ``ecg-holter-beats.png`` — the DICOM 12-lead ECG
  and MIT-BIH 119 with the beat model's labels;
- ``ecg-handheld-rhythm.png`` / ``ecg-holter-rhythm.png`` — the rhythm report of
  the bundled handheld AF recording and of MIT-BIH 201 (AF episodes shaded; the
  explained stretch's irregular RR intervals marked under the trace);
- ``record-contributions.png`` — the record form and the classical model's
  feature contributions.

``--network`` saves instead ``pacs-query.png`` (File ▸ Query PACS… with a CT
study opened to its series on a throw-away Orthanc), ``pacs-query-retrieved.png``,
``pacs-retrieved-series.png`` (the retrieved series in the viewer) and
``dicom-network.png`` (File ▸ DICOM network…).

Identifying text is hidden on the radiograph (as for teaching material).
User folders point to a temporary directory, so nothing of the user's
settings is read or changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CHILD = "STETHOS_SCREENSHOTS_CHILD"


def _relaunch_under_xvfb(argv: list[str]) -> int:
    runner = shutil.which("xvfb-run")
    if runner is None:
        print(
            "xvfb-run not found: install it (apt-get install -y xvfb) or pass --offscreen.",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ, **{_CHILD: "1", "QT_QPA_PLATFORM": "xcb"})
    command = [runner, "-a", "-s", "-screen 0 1920x1200x24", sys.executable, __file__, *argv]
    return subprocess.run(command, env=env, cwd=REPO, check=False).returncode


def _wait(app, condition, timeout_s: float = 60.0, what: str = "") -> None:
    """Process events until ``condition()`` holds (a script, not a test: polling is fine)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        app.processEvents()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()


def _save(widget, path: Path) -> None:
    pixmap = widget.grab()
    if not pixmap.save(str(path), "PNG", 0):  # 0: smallest file (lossless)
        raise OSError(f"could not write {path}")
    print(f"saved {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def take(out: Path) -> None:
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from engine.dicom.synthetic import write_ct_series

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Stethos")
    app.setOrganizationName("Stethos")
    window = MainWindow()
    window.resize(1800, 1060)
    window.show()
    _wait(app, window.isVisible, what="the window")
    window.resizeDocks([window.record_dock], [560], Qt.Orientation.Horizontal)
    out.mkdir(parents=True, exist_ok=True)

    def idle() -> bool:
        return not window.image_jobs.busy and not window.analysis_jobs.busy

    # 1. chest radiograph with the AI heat map
    # the model's intended population (a child's radiograph) when such a sample ships
    from engine.resources import resource_path

    peds = sorted(resource_path("samples").glob("peds-cxr-pneumonia*.dcm"))
    if peds:
        window.open_paths([peds[0]])
    else:
        window.open_sample()
    _wait(app, lambda: window.viewer.stack is not None and idle(), what="the sample")
    window.viewer_panel.identity_action.trigger()
    from engine.errors import ModelNotFoundError
    from engine.workflow import default_model

    try:
        default_model("image")
    except ModelNotFoundError:
        print("no image model installed: the radiograph is shown without a heat map")
    else:
        window.analyze_image_action.trigger()
        _wait(app, idle, timeout_s=300, what="the image analysis")
        window.viewer_panel.heat_opacity.setValue(45)
    _wait(app, lambda: not window.browser.thumb_jobs.busy, what="thumbnails")
    _save(window, out / "cxr-heatmap.png")

    # 1b. an adult radiograph that does not record the age: the out-of-domain check gives no result
    if peds:
        import pydicom

        with tempfile.TemporaryDirectory(prefix="stethos-shots-") as tmp:
            adult = pydicom.dcmread(resource_path("samples", "chest-cr-pa.dcm"))
            for keyword in ("PatientAge", "PatientBirthDate"):
                if keyword in adult:
                    delattr(adult, keyword)
            path = Path(tmp) / "adult-cr-age-not-recorded.dcm"
            adult.save_as(path)
            window.close_studies()
            window.open_paths([path])
            _wait(app, lambda: window.viewer.stack is not None and idle(), what="the adult CR")
            window.analyze_image_action.trigger()
            _wait(app, idle, timeout_s=300, what="the adult CR analysis")
            _wait(app, lambda: not window.browser.thumb_jobs.busy, what="thumbnails")
            _save(window, out / "cxr-out-of-domain.png")
            window.close_studies()

    # 2. synthetic CT with measurements
    with tempfile.TemporaryDirectory(prefix="stethos-shots-") as tmp:
        folder = Path(tmp) / "synthetic-ct"
        write_ct_series(folder, 48, rows=512, cols=512, seed=11)
        window.close_studies()
        window.open_paths([folder])
        _wait(
            app,
            lambda: window.viewer.stack is not None and not window.viewer.stack.loading and idle(),
            what="the CT series",
        )
        viewer, panel = window.viewer, window.viewer_panel
        panel.identity_action.trigger()  # synthetic: nothing to hide
        viewer.set_frame(viewer.n_frames // 2)
        panel.preset_action("Abdomen").trigger()
        rows, cols = viewer.stack.shape
        cx, cy = cols / 2, rows / 2
        viewer.add_measurement("distance", [(cx - 0.45 * cols, cy), (cx + 0.45 * cols, cy)])
        viewer.add_measurement("rectangle", [(cx - 0.23 * cols, cy - 0.03 * rows), (cx - 0.17 * cols, cy + 0.03 * rows)])  # fmt: skip
        viewer.add_measurement("angle", [(cx + 0.3 * cols, cy - 0.3 * rows), (cx + 0.1 * cols, cy - 0.1 * rows), (cx + 0.35 * cols, cy - 0.05 * rows)])  # fmt: skip
        viewer.add_measurement("ellipse", [(cx - 0.1 * cols, cy + 0.12 * rows), (cx + 0.1 * cols, cy + 0.3 * rows)])  # fmt: skip
        _wait(app, lambda: not window.browser.thumb_jobs.busy, what="thumbnails")
        _save(window, out / "ct-measurements.png")

        # 4. the tag browser on this CT slice
        window.show_tags()
        tags = window.dialogs["tags"]
        _wait(app, lambda: not tags.jobs.busy, what="the tags")
        tags.filter.setText("spacing")
        tags.resize(900, 520)
        _wait(app, lambda: True)
        _save(tags, out / "tag-browser.png")
        tags.close()

    # 3. a DICOMDIR (CD/USB) in the study browser
    from pydicom.data import get_testdata_file

    dicomdir = get_testdata_file("DICOMDIR", download=False)
    if dicomdir is not None:
        window.close_studies()
        window.open_paths([Path(dicomdir)])
        _wait(app, lambda: window.viewer.stack is not None and idle(), what="the DICOMDIR")
        gap = next((r for r in window.browser.refs() if r.series.has_gaps), None)
        if gap is not None:
            window.browser.activate(gap.series.series_instance_uid)
            _wait(app, lambda: idle() and not window.viewer.stack.loading, what="the series")
        _wait(app, lambda: not window.browser.thumb_jobs.busy, what="thumbnails")
        _save(window, out / "dicomdir-browser.png")

    # 6. 12-lead ECG with the beat model's labels
    ecg = window.ecg
    ecg.open_sample_12_lead()
    _wait(app, lambda: not ecg.jobs.busy and ecg.signal is not None, what="the 12-lead ECG")
    ecg.analyze()
    _wait(app, lambda: not ecg.jobs.busy, timeout_s=300, what="the ECG analysis")
    _save(window, out / "ecg-12-lead-beats.png")
    ecg.open_sample_holter()
    _wait(app, lambda: not ecg.jobs.busy and ecg.signal is not None, what="the Holter ECG")
    ecg.analyze()
    _wait(app, lambda: not ecg.jobs.busy, timeout_s=300, what="the Holter analysis")
    _save(window, out / "ecg-holter-beats.png")

    # 6b. rhythm reports: a handheld single-lead AF recording, and a Holter with AF episodes
    # (MIT-BIH 201 from the shared data when it is there, else the bundled 119)
    ecg.open_sample_handheld()
    _wait(app, lambda: not ecg.jobs.busy and ecg.signal is not None, what="the handheld ECG")
    ecg.analyze_rhythm()
    _wait(app, lambda: not ecg.jobs.busy, timeout_s=300, what="the handheld rhythm report")
    _save(window, out / "ecg-handheld-rhythm.png")
    af_holter = REPO.parent / "shared" / "data" / "ecg" / "mitdb" / "201.hea"
    if af_holter.is_file():
        ecg.open_signal(af_holter)
    else:
        ecg.open_sample_holter()
    _wait(app, lambda: not ecg.jobs.busy and ecg.signal is not None, what="the AF Holter")
    ecg.analyze_rhythm()
    _wait(app, lambda: not ecg.jobs.busy, timeout_s=300, what="the Holter rhythm report")
    episodes = (ecg.prediction.extra.get("rhythm") or {}).get("episodes") if ecg.prediction else []
    if episodes:  # the onset of the first AF episode, in the middle of the strip
        ecg.go_to(float(episodes[0]["start"]))
    _wait(app, lambda: True)
    _save(window, out / "ecg-holter-rhythm.png")

    # 7. the record form with the classical model's contributions (cholesterol in mmol/L,
    # as a laboratory outside the US reports it; the record keeps the model's mg/dL)
    window.tabs.setCurrentWidget(window.viewer_panel)
    window.form.set_unit("chol", "mmol/L")
    window.form.set_record(
        dict(age=67, sex=1, cp=4, trestbps=160, chol=286, fbs=0, restecg=2, thalach=108,
             exang=1, oldpeak=1.5, slope=2, ca=3, thal=3)
    )  # fmt: skip
    window.analyze()
    _wait(app, idle, timeout_s=120, what="the record analysis")
    _save(window.record_dock, out / "record-contributions.png")

    # 5. keyboard shortcuts, generated from the menus
    window.shortcuts_action.trigger()
    dialog = window.dialogs["shortcuts"]
    dialog.resize(640, 900)
    _wait(app, dialog.isVisible, what="the shortcuts dialog")
    _save(dialog, out / "shortcuts.png")
    dialog.close()
    window.close()


SIZES = ((1920, 1080), (1366, 768))


def take_sizes(out: Path) -> None:
    """The reading room at 1920×1080 and 1366×768: a CT study of 42 series, a 12-lead ECG, a
    30-minute Holter with beat labels, a radiograph with its result, and the Chinese UI."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtWidgets import QApplication

    from desktop.i18n import install_translator, remove_translators
    from desktop.main_window import MainWindow
    from engine.dicom.synthetic import write_ct_series
    from engine.resources import resource_path

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Stethos")
    app.setOrganizationName("Stethos")
    out.mkdir(parents=True, exist_ok=True)
    peds = sorted(resource_path("samples").glob("peds-cxr-pneumonia*.dcm"))[0]
    with tempfile.TemporaryDirectory(prefix="stethos-sizes-") as tmp:
        study = Path(tmp) / "ct-study"
        for n in range(42):  # one study, 42 series (a CT with many reconstructions)
            write_ct_series(study / f"s{n:02d}", 3 if n else 24, rows=128, cols=128, seed=n,
                            study_uid="1.2.826.0.1.3680043.8.498.4242", series_number=n + 1)  # fmt: skip
        for width, height in SIZES:
            tag = f"{width}x{height}"
            for language in ("en", "zh_CN"):
                if language != "en":
                    install_translator(app, language)
                window = MainWindow()
                window.move(0, 0)
                window.resize(width, height)
                window.show()
                _wait(app, window.isVisible, what="the window")

                def idle(w=window) -> bool:
                    return not w.image_jobs.busy and not w.analysis_jobs.busy

                window.open_paths([peds])
                _wait(app, lambda w=window: w.viewer.stack is not None and idle(), what="cxr")
                window.viewer_panel.identity_action.trigger()
                window.analyze_image_action.trigger()
                _wait(app, idle, timeout_s=300, what="the image analysis")
                _wait(app, lambda w=window: not w.browser.thumb_jobs.busy, what="thumbnails")
                if language != "en":
                    _save(window, out / f"reading-{tag}-zh-cxr-result.png")
                    window.close()
                    remove_translators(app)
                    continue
                _save(window, out / f"reading-{tag}-cxr-result.png")
                window.close_studies()
                window.open_paths([study])
                _wait(app, lambda w=window: w.viewer.stack is not None
                      and not w.viewer.stack.loading and idle(), what="the CT study")  # fmt: skip
                _wait(app, lambda w=window: not w.browser.thumb_jobs.busy, what="thumbnails")
                _save(window, out / f"reading-{tag}-ct-42-series.png")
                ecg = window.ecg
                for opener, name in ((ecg.open_sample_12_lead, "ecg-12-lead"),
                                     (ecg.open_sample_holter, "holter-beats")):  # fmt: skip
                    opener()
                    _wait(app, lambda e=ecg: not e.jobs.busy and e.signal is not None, what=name)
                    ecg.analyze()
                    _wait(app, lambda e=ecg: not e.jobs.busy, timeout_s=300, what=name)
                    _save(window, out / f"reading-{tag}-{name}.png")
                window.close()


def take_network(out: Path) -> None:
    """The DICOM network dialogs against a throw-away Orthanc (Debian package ``orthanc``)."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtWidgets import QApplication

    from benchmarks import _orthanc
    from desktop.main_window import MainWindow
    from engine.dicom.synthetic import write_ct_series
    from engine.net import Node, add_node
    from engine.resources import resource_path

    app = QApplication.instance() or QApplication([sys.argv[0]])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stethos-pacs-") as tmp:
        pacs = _orthanc.start(Path(tmp) / "orthanc")
        if pacs is None:
            raise SystemExit("the network screenshots need Orthanc (apt-get install orthanc)")
        try:
            study = None
            for n in (1, 2, 3):  # a synthetic CT study of three series
                files = write_ct_series(Path(tmp) / f"ct{n}", 12 * n, rows=128, cols=128,
                                        seed=n, study_uid=study, series_number=n)  # fmt: skip
                import pydicom

                study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
                pacs.upload(files)
            pacs.upload(sorted(resource_path("samples").glob("*.dcm")))
            add_node(Node("pacs", "ORTHANC", "127.0.0.1", pacs.dicom_port,
                          dicomweb=f"{pacs.url}/dicom-web"))  # fmt: skip
            window = MainWindow()
            window.resize(1600, 1000)
            window.show()
            _wait(app, window.isVisible, what="the window")
            window.show_query()
            dialog = window.dialogs["query"]
            dialog.resize(1100, 640)
            dialog.node_box.setCurrentIndex(dialog.node_box.findData("pacs"))
            dialog.search_button.click()
            _wait(app, lambda: not dialog.jobs.busy and dialog.tree.topLevelItemCount() > 0,
                  what="the search")  # fmt: skip
            items = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
            ct = next(i for i in items if "CT" in i.text(3))
            ct.setExpanded(True)
            _wait(app, lambda: ct.childCount() == 3, what="the series")
            dialog.tree.setCurrentItem(ct.child(1))
            _save(dialog, out / "pacs-query.png")
            dialog.retrieve_button.click()
            _wait(app, lambda: not dialog.jobs.busy and window.viewer.stack is not None
                  and not window.image_jobs.busy, what="the retrieve")  # fmt: skip
            _save(dialog, out / "pacs-query-retrieved.png")
            dialog.close()
            window.show_nodes()
            nodes = window.dialogs["nodes"]
            nodes.resize(900, 560)
            _wait(app, nodes.isVisible, what="the network dialog")
            _save(nodes, out / "dicom-network.png")
            nodes.close()
            _save(window, out / "pacs-retrieved-series.png")
            window.close()
            _earlier_result(app, pacs, Path(tmp), out)
        finally:
            pacs.stop()


def _earlier_result(app, pacs, tmp: Path, out: Path) -> None:
    """A study retrieved from the PACS with the AI result (SR + heat-map SEG) made earlier."""
    from desktop.main_window import MainWindow
    from engine.net import InstanceCache, Node, get_study
    from engine.resources import resource_path
    from engine.workflow import ResultReview, analyze, export_result_dicom

    sample = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")
    outcome = analyze(sample)
    review = ResultReview("accepted", "Consolidation right lower zone.", "Ada Lovelace", "ada")
    export = export_result_dicom(outcome, tmp / "ai", review=review)
    pacs.upload(list(export.paths))
    got = get_study(Node("pacs", "ORTHANC", "127.0.0.1", pacs.dicom_port),
                    outcome.source.study_instance_uid, InstanceCache(tmp / "cache"))  # fmt: skip
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    _wait(app, window.isVisible, what="the window")
    window.open_paths(list(got.files))
    study = outcome.source.study_instance_uid
    _wait(app, lambda: bool(window.browser.study_results(study))
          and window.viewer.heatmap is not None, what="the earlier result")  # fmt: skip
    _save(window, out / "pacs-earlier-ai-result.png")
    window.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Save screenshots of the Stethos viewer.")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--offscreen", action="store_true", help="no X server: Qt offscreen")
    parser.add_argument(
        "--sizes", action="store_true",
        help="the reading room at 1920×1080 and 1366×768 (reading-*.png) instead",
    )  # fmt: skip
    parser.add_argument(
        "--network", action="store_true",
        help="the DICOM network dialogs against a throw-away Orthanc (pacs-*.png) instead",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not os.environ.get(_CHILD) and not os.environ.get("DISPLAY"):
        return _relaunch_under_xvfb(argv)
    with tempfile.TemporaryDirectory(prefix="stethos-user-") as home:
        for key in ("STETHOS_DATA_DIR", "STETHOS_LOG_DIR", "STETHOS_CONFIG_DIR"):
            os.environ[key] = str(Path(home) / key.lower())
        (take_network if args.network else take_sizes if args.sizes else take)(args.out.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
