"""The tag tree of a DICOM file (for the tag browser)."""

from __future__ import annotations

import pytest

from engine.dicom.tags import dataset_tree
from engine.errors import NotDicomError
from tests.engine.dicom._helpers import pydicom_file


def test_tree_has_meta_elements_values_and_a_pixel_summary():
    nodes = dataset_tree(pydicom_file("CT_small.dcm"))
    by_keyword = {n.keyword: n for n in nodes}
    assert nodes[0].tag.startswith("(0002,")
    assert by_keyword["Modality"].value == "CT" and by_keyword["Modality"].vr == "CS"
    assert by_keyword["PatientName"].tag == "(0010,0010)"
    assert by_keyword["PixelData"].value.startswith("<pixel data")


def test_sequences_become_items_with_children():
    nodes = dataset_tree(pydicom_file("rtplan.dcm"))
    sequences = [n for n in nodes if n.vr == "SQ" and n.children]
    assert sequences
    item = sequences[0].children[0]
    assert item.tag == "Item 1" and item.children
    assert sequences[0].value.endswith(("item", "items"))


def test_not_dicom_raises_a_typed_error(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("hello")
    with pytest.raises(NotDicomError) as info:
        dataset_tree(path)
    assert "notes.dcm" in info.value.user_message
