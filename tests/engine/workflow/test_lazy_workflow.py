"""engine.workflow loads each part on first use: showing an image needs neither the store nor
the models (the desktop imports the package before its first paint)."""

from __future__ import annotations

import subprocess
import sys


def test_studies_alone_load_neither_the_store_nor_the_models():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from engine.workflow import StudyOpened, open_study, series_thumbnails\n"
            "print(sorted(m for m in ('engine.store', 'engine.models.runtime', "
            "'engine.workflow.session', 'engine.workflow.report', 'pydicom') "
            "if m in sys.modules))\n",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves_to_its_module():
    import engine.workflow as workflow
    from engine.workflow.session import save_record
    from engine.workflow.studies import open_study

    assert workflow.open_study is open_study and workflow.save_record is save_record
    assert all(getattr(workflow, name) is not None for name in workflow.__all__)
    assert set(workflow.__all__) <= set(dir(workflow))
