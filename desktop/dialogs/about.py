"""Help ▸ About: version, licences, and where the models' and samples' data came from."""

from __future__ import annotations

import html
import platform
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from engine import __version__
from engine.resources import resource_path
from engine.workflow import model_attributions

#: Third-party packages credited, with the licence to show when the metadata has none.
THIRD_PARTY = (
    ("PySide6-Essentials", "LGPL-3.0-only (Qt for Python)"),
    ("pydicom", "MIT"),
    ("numpy", "BSD-3-Clause"),
    ("scipy", "BSD-3-Clause"),
    ("torch", "BSD-3-Clause"),
    ("torchvision", "BSD-3-Clause"),
    ("scikit-learn", "BSD-3-Clause"),
    ("safetensors", "Apache-2.0"),
    ("skops", "MIT"),
    ("wfdb", "MIT"),
    ("pylibjpeg", "MIT"),
    ("pylibjpeg-libjpeg", "GPL-3.0 (libjpeg by Thomas Richter)"),
    ("pylibjpeg-openjpeg", "MIT (OpenJPEG: BSD-2-Clause)"),
    ("pylibjpeg-rle", "MIT"),
    ("pyjpegls", "MIT (CharLS: BSD-3-Clause)"),
    ("pillow", "MIT-CMU"),
    ("platformdirs", "MIT"),
    ("jsonschema", "MIT"),
)


def _field(meta: metadata.PackageMetadata, name: str) -> str | None:
    """The first value of a metadata field (``None`` when absent)."""
    values = meta.get_all(name)
    return str(values[0]) if values else None


def _licence(dist: metadata.Distribution, fallback: str) -> str:
    meta = dist.metadata
    expression = _field(meta, "License-Expression")
    if expression:
        return expression
    value = _field(meta, "License") or ""
    if value and len(value) <= 40 and "\n" not in value:
        return value
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License")
    ]
    return ", ".join(classifiers) or fallback


def third_party_rows() -> list[tuple[str, str, str]]:
    """``(package, version, licence)`` of the installed third-party packages credited."""
    rows = []
    for name, fallback in THIRD_PARTY:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        rows.append((name, dist.version, _licence(dist, fallback)))
    return rows


def sample_attributions() -> str:
    """The sample studies' attribution file (Markdown), or an empty string."""
    try:
        return resource_path("samples", "ATTRIBUTION.md").read_text(encoding="utf-8")
    except OSError:
        return ""


class AboutDialog(QDialog):
    """Version, licences and data attributions, in one scrollable page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about_dialog")
        self.setWindowTitle(self.tr("About Stethos"))
        self.resize(820, 720)
        self.browser = QTextBrowser()
        self.browser.setObjectName("about_text")
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(self.markdown())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    def markdown(self) -> str:
        """The page, as Markdown."""
        esc = html.escape
        parts = [
            f"# Stethos {esc(__version__)}",
            self.tr(
                "Offline diagnosis workstation. Results support, and do not replace, the "
                "judgement of a qualified clinician."
            ),
            self.tr("Python {0}, Qt {1}, Qt for Python {2}.").format(
                platform.python_version(), qVersion(), pyside_version
            ),
            "## " + self.tr("Models and their training data"),
        ]
        models = model_attributions()
        if not models:
            parts.append(self.tr("No model is installed."))
        for m in models:
            parts.append(
                f"**{esc(m['name'])}** (`{esc(m['id'])}` {esc(m['version'])}) — "
                + self.tr("licence: {0}").format(esc(m["licence"]))
                + "\n\n"
                + self.tr("Trained on {0}; source: {1}; data licence: {2}.").format(
                    esc(m["data_name"]), esc(m["data_source"]), esc(m["data_licence"])
                )
                + (f"\n\n*{esc(m['data_citation'])}*" if m["data_citation"] else "")
            )
        parts.append("## " + self.tr("Sample studies"))
        samples = sample_attributions()
        # the file's own title is replaced by the section title above
        lines = [line for line in samples.splitlines() if not line.startswith("# ")]
        parts.append("\n".join(lines).strip() or self.tr("No sample studies are installed."))
        parts.append("## " + self.tr("Third-party software"))
        table = [
            "| " + " | ".join((self.tr("Package"), self.tr("Version"), self.tr("Licence"))) + " |",
            "|---|---|---|",
        ]
        table += [f"| {esc(n)} | {esc(v)} | {esc(lic)} |" for n, v, lic in third_party_rows()]
        parts.append("\n".join(table))
        parts.append(
            self.tr("The heat-map colours use the Turbo colour map (Google LLC, Apache-2.0).")
        )
        return "\n\n".join(parts)
