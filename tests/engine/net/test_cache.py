"""The DICOM cache: atomic hash-named files, an index, LRU eviction that spares linked studies."""

from __future__ import annotations

import time

import pydicom
from pydicom.uid import generate_uid

from engine.net import InstanceCache
from engine.resources import resource_path

SAMPLE = resource_path("samples", "peds-cxr-normal-jls.dcm")


def _instance(study: str):
    ds = pydicom.dcmread(SAMPLE)
    ds.StudyInstanceUID = study
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def test_least_recently_used_unlinked_studies_go_first(tmp_path) -> None:
    one = SAMPLE.stat().st_size
    cache = InstanceCache(tmp_path / "c", limit_bytes=int(2.5 * one))
    a, b, c = "1.2.3.1", "1.2.3.2", "1.2.3.3"
    for study in (a, b, c):
        cache.store(_instance(study))
        time.sleep(0.01)
    cache.protect(a)  # linked to a patient record
    cache.study_files(b)  # read again: now the most recently used
    removed = cache.evict()
    assert removed == [c]  # a is protected, b was just used
    assert cache.size_bytes() <= cache.limit_bytes
    assert {s[0] for s in cache.studies()} == {a, b}
    assert all(f.is_file() for f in cache.study_files(a) + cache.study_files(b))


def test_the_same_instance_twice_is_one_file(tmp_path) -> None:
    cache = InstanceCache(tmp_path / "c")
    ds = _instance("1.2.3.9")
    first, second = cache.store(ds), cache.store(ds)
    assert first.new and not second.new and first.path == second.path
    assert cache.has(str(ds.SOPInstanceUID))
