"""The study browser: folders with bad files, DICOMDIRs, progressive series, recent studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from desktop.browser.recent import add_recent, clear_recent, recent_studies
from engine.dicom.synthetic import write_ct_series
from engine.resources import resource_path
from tests.desktop.conftest import open_and_wait
from tests.desktop.viewer_data import write_rgb

SAMPLE = resource_path("samples", "chest-cr-pa.dcm")


@pytest.fixture()
def two_series_with_a_bad_file(tmp_path) -> Path:
    study = generate_uid()
    root = tmp_path / "disc"
    write_ct_series(root / "a", 4, rows=32, cols=32, study_uid=study, series_number=1, seed=1)
    write_ct_series(root / "b", 3, rows=32, cols=32, study_uid=study, series_number=2, seed=2)
    good = next((root / "a").iterdir()).read_bytes()
    (root / "broken.dcm").write_bytes(good[: len(good) // 2])  # truncated in the pixels
    (root / "notes.txt").write_text("not DICOM")
    return root


def test_folder_lists_two_series_and_the_bad_files(qtbot, window, two_series_with_a_bad_file):
    with qtbot.waitSignal(window.browser.thumb_jobs.finished, timeout=30000):
        open_and_wait(qtbot, window, [two_series_with_a_bad_file])
    browser = window.browser
    refs = browser.refs()
    assert [r.series.n_images for r in refs] == [4, 3]
    assert [browser.series_item(r.series.series_instance_uid).text(1) for r in refs] == ["CT", "CT"]
    assert [browser.series_item(r.series.series_instance_uid).text(3) for r in refs] == ["4", "3"]
    problems = dict(browser.problem_rows())
    assert set(problems) == {"broken.dcm", "notes.txt"}
    assert "truncated" in problems["broken.dcm"] and "not a DICOM file" in problems["notes.txt"]
    assert browser.problems_box.isVisible()
    assert "2 file(s) could not be read" in window.status_text.text()
    # the first series is shown, marked in the tree, its info in the panel
    assert window.viewer.stack.series.series_instance_uid == refs[0].series.series_instance_uid
    assert "Synthetic axial CT" in browser.info.text() and "Pixel Spacing" in browser.info.text()
    for r in refs:
        thumb = browser.thumbnail(r.series.series_instance_uid)
        assert thumb is not None and max(thumb.width(), thumb.height()) <= 64
    # Patient and study rows use the whole width (names are not cut); a series row's tooltip
    # has its whole name; the date is on the study row, not repeated per series.
    item = browser.series_item(refs[0].series.series_instance_uid)
    study, patient = item.parent(), item.parent().parent()
    assert patient.isFirstColumnSpanned() and study.isFirstColumnSpanned()
    assert item.toolTip(0) == item.text(0) and browser.tree.isColumnHidden(2)
    if refs[0].study.date:
        assert study.text(0).endswith(item.text(2))


def test_series_load_shows_the_first_slice_before_the_rest(
    qtbot, window, two_series_with_a_bad_file
):
    open_and_wait(qtbot, window, [two_series_with_a_bad_file])
    second = window.browser.refs()[1]
    events: list[str] = []
    window.image_jobs.partial.connect(lambda p: events.append(type(p).__name__))
    window.image_jobs.succeeded.connect(lambda r: events.append(type(r).__name__))
    shown_while_loading: list[bool] = []
    window.viewer.image_changed.connect(
        lambda: shown_while_loading.append(window.viewer.stack.loading)
    )
    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        window.browser.activate(second.series.series_instance_uid)
    assert events == ["FirstSliceLoaded", "LoadedView"]
    assert shown_while_loading[0] is True and shown_while_loading[-1] is False
    stack = window.viewer.stack
    assert stack.series.series_instance_uid == second.series.series_instance_uid
    assert stack.n_frames == 3 and not stack.loading


def test_dicomdir_opens_with_its_patients_studies_and_series(qtbot, window):
    from pydicom.data import get_testdata_file

    found = get_testdata_file("DICOMDIR", download=False)
    if found is None:
        pytest.skip("pydicom's DICOMDIR test tree is not installed")
    dicomdir = Path(found)
    open_and_wait(qtbot, window, [dicomdir])
    browser = window.browser
    assert browser.tree.topLevelItemCount() == 2  # two patients
    refs = browser.refs()
    assert len(refs) >= 10 and window.viewer.stack is not None
    gap = next(r for r in refs if r.series.has_gaps)
    assert "gaps between slices" in browser.series_info_html(gap)
    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        browser.activate(gap.series.series_instance_uid)
    notes = [text for text, warn in window.viewer.overlay_notes() if warn]
    assert any(text.startswith("Series: 1 gap(s) between slices") for text in notes)
    assert "gaps between slices" in browser.info.text()
    assert not browser.problem_rows()


def test_recent_studies_are_remembered_and_reopen(qtbot, window, tmp_path):
    clear_recent()
    open_and_wait(qtbot, window, [SAMPLE])
    assert recent_studies()[0] == [SAMPLE.resolve()]
    window._rebuild_recent_menu()
    actions = [a for a in window.recent_menu.actions() if a.text().endswith(SAMPLE.name)]
    assert actions
    window.close_studies()
    assert window.viewer.stack is None and window.browser.refs() == []
    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        actions[0].trigger()
    assert window.viewer.image.path == SAMPLE
    for i in range(12):
        add_recent([tmp_path / f"study{i}"])
    assert len(recent_studies()) == 10


def test_a_colour_series_of_several_files_scrolls_like_a_stack(qtbot, window, tmp_path):
    rng = np.random.default_rng(5)
    study, series = generate_uid(), generate_uid()
    pictures = [rng.integers(0, 256, size=(24, 32, 3)).astype(np.uint8) for _ in range(3)]
    for i, rgb in enumerate(pictures):
        write_rgb(tmp_path / f"us{i}.dcm", rgb, series_uid=series, study_uid=study, instance=i + 1)
    open_and_wait(qtbot, window, [tmp_path])
    viewer = window.viewer
    assert viewer.n_frames == 3 and viewer.stack.is_color and viewer.window is None
    for i, rgb in enumerate(pictures):
        viewer.set_frame(i)
        assert np.array_equal(viewer.rendered(), rgb)
    m = viewer.add_measurement("rectangle", [(0.0, 0.0), (32.0, 24.0)])
    luminance = pictures[2].astype(np.float64) @ [0.299, 0.587, 0.114]
    assert viewer.measurement_value(m).mean == pytest.approx(luminance.mean(), rel=1e-5)


def test_hiding_identity_also_hides_names_in_the_study_browser(qtbot, window):
    from pydicom.data import get_testdata_file

    found = get_testdata_file("DICOMDIR", download=False)
    if found is None:
        pytest.skip("pydicom's DICOMDIR test tree is not installed")
    open_and_wait(qtbot, window, [Path(found)])
    tree = window.browser.tree
    names = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert any("Doe" in n for n in names)
    window.viewer_panel.identity_action.setChecked(True)
    hidden = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    assert [h.text(0) for h in hidden] == ["Patient 1", "Patient 2"]
    assert all(h.toolTip(0) == "" and h.text(2) == "" for h in hidden)
    window.viewer_panel.identity_action.setChecked(False)
    assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())] == names
