"""The PDF report of one encounter (QTextDocument printed by QPdfWriter).

Contents: patient header; the image shown, without and with the heat map;
the ECG strip with its beat labels; the record's values with units; each
result with the model id and version, operating point, intended use, the
statement that it supports and does not replace clinical judgement, and the
clinician's decision; a footer with the software version.

The engine gathers what the report says (:func:`engine.workflow.report.
collect_report`); this module only draws it: :func:`report_content` turns
that data (and, for the encounter open in the window, the pictures on
screen) into a :class:`ReportContent`, and :func:`write_report_pdf` prints
it. A file that is gone is named in the report (``image_notes``,
``ecg_notes``) instead of stopping it.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QBuffer, QCoreApplication, QIODevice, QMarginsF, QObject, QSizeF, QUrl
from PySide6.QtGui import (
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtPrintSupport import QPrinter

from desktop.ecg.rhythm import summary_rows
from desktop.patients.host import ScreenViews
from desktop.records.units import value_in_chosen_unit
from desktop.results.basis import basis_text, site_text
from desktop.results.panel import warning_text
from desktop.viewer.overlay import heatmap_rgba
from engine.records import HEART_RECORD, RecordSchema
from engine.store import Encounter, Patient, StoredRecord
from engine.workflow import ReportData, ReportEcg, SavedResult, Unavailable

translate = QCoreApplication.translate

_SUPPORT = "This result supports, and does not replace, the judgement of a qualified clinician."


@dataclass
class ReportContent:
    """Everything one report shows, as drawn (see :func:`report_content`)."""

    patient: Patient
    encounter: Encounter
    records: list[StoredRecord]
    results: list[SavedResult]
    schema: RecordSchema
    software_version: str
    signed_by: str
    intended_uses: dict[str, str] = field(default_factory=dict)
    image: QImage | None = None
    image_with_heatmap: QImage | None = None
    image_caption: str = ""
    ecg: QImage | None = None
    ecg_caption: str = ""
    image_notes: list[str] = field(default_factory=list)
    ecg_notes: list[str] = field(default_factory=list)


def value_text(spec, value: Any, unit: str | None = None) -> str:
    """A record value as people read it, in the interface language (``145 mmHg``, a choice)."""
    if value is None:
        return QCoreApplication.translate("EncounterReport", "not recorded")
    if spec.kind == "choice":
        labels = {float(c.code): c.label for c in spec.choices}
        return QCoreApplication.translate("RecordForm", labels.get(float(value), str(value)))
    return value_in_chosen_unit(spec, float(value), unit if unit is not None else spec.unit)


def _e(value: object) -> str:
    return html.escape(str(value))


def when_text(moment: datetime) -> str:
    """A stored time as people read it, in local time (``2025-01-06 10:00``)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


class EncounterReport(QObject):
    """Builds the report; its texts are translated in the context “EncounterReport”."""

    def record_rows(self, record: StoredRecord, schema: RecordSchema) -> str:
        rows = []
        for spec in schema.fields:
            if spec.name not in record.values:
                continue
            value = record.values[spec.name]
            text = value_text(spec, value, record.units.get(spec.name))
            label = QCoreApplication.translate("RecordForm", spec.label)
            rows.append(f"<tr><td>{_e(label)}</td><td>{_e(text)}</td></tr>")
        return "".join(rows)

    def result_block(self, saved: SavedResult, intended_use: str) -> str:
        res = saved.stored
        score = f"{res.score:.1%}" if res.score is not None else "–"  # as the result panel
        beats = saved.beats
        stored = res.result if isinstance(res.result, dict) else {}
        rhythm = stored.get("rhythm")
        if isinstance(rhythm, dict):  # a rhythm model: its Holter-style report
            label = str(stored.get("rhythm_label") or res.label)
            outcome = (
                "<table>"
                + "".join(
                    f"<tr><td><b>{_e(what)}</b>&nbsp;</td><td>{_e(value)}</td></tr>"
                    for what, value in summary_rows(label, rhythm)
                )
                + "</table>"
            )
        elif beats:  # a signal model: one label per beat
            counts = Counter(beat.label for beat in beats)
            outcome = self.tr("Beats per class: {0} (of {1} beats)").format(
                _e(", ".join(f"{k} {v}" for k, v in sorted(counts.items()))), len(beats)
            )
        elif res.withheld:  # no result, no probability
            outcome = self.tr(
                "<b>No result</b>: the image looks unlike the images this model was validated "
                "on, and the model gave no label. No result does not mean the image is normal."
            )
        else:
            outcome = self.tr("Result: <b>{0}</b> (probability of {1}: {2})").format(
                _e(res.label), _e(res.positive_label or "–"), score
            )
        lines = [
            f"<h3>{_e(res.model_name or res.model_id)}</h3>",
            "<p>"
            + outcome
            + "<br>"
            + self.tr("Model id: {0} · version {1} · weights {2}…").format(
                _e(res.model_id), _e(res.model_version), _e(res.weights_sha256[:12])
            )
            + "<br>",
        ]
        if res.threshold is not None:
            sens, spec = (
                f"{v:.0%}" if v is not None and v >= 0 else "–"
                for v in (res.sensitivity, res.specificity)
            )
            lines.append(
                self.tr(
                    "Operating point: {0} (threshold {1:.2f}; sensitivity {2}, specificity {3})"
                ).format(_e(res.operating_point), res.threshold, sens, spec)
                + "<br>"
            )
        for extra in (site_text(stored.get("site_calibration")), basis_text(stored.get("inputs"))):
            if extra:
                lines.append(_e(extra) + "<br>")
        if intended_use:
            lines.append(self.tr("Intended use: {0}").format(_e(intended_use)) + "<br>")
        if res.explanation_summary:
            lines.append(self.tr("Explanation: {0}").format(_e(res.explanation_summary)) + "<br>")
        # the caveats the screen showed with the result (gates, noise, gaps; post-processing)
        for warning in stored.get("warnings") or []:
            lines.append(f'<span style="color:#b34700">{_e(warning_text(str(warning)))}</span><br>')
        for note in stored.get("notes") or []:
            lines.append(_e(str(note)) + "<br>")
        lines.append(f"<i>{_e(QCoreApplication.translate('ResultPanel', _SUPPORT))}</i><br>")
        d = res.decision
        if d is None:
            lines.append("<b>" + self.tr("Clinician's decision: none recorded yet.") + "</b>")
        else:
            kind = self.tr("accepted") if d.decision == "accepted" else self.tr("overridden")
            text = self.tr("Clinician's decision: {0} by {1} on {2}").format(
                kind, _e(d.decided_by), when_text(d.decided_at)
            )
            if d.comment:
                text += " — " + self.tr("comment: {0}").format(_e(d.comment))
            lines.append(f"<b>{text}</b>")
        lines.append("</p>")
        return "".join(lines)

    def html(self, content: ReportContent) -> str:
        """The report as HTML (images referenced as ``report://…`` resources)."""
        label = {
            "Birth date": self.tr("Birth date"),
            "ECG": self.tr("ECG"),
            "Encounter": self.tr("Encounter"),
            "Finding": self.tr("Finding"),
            "Image": self.tr("Image"),
            "MRN": self.tr("MRN"),
            "No model results in this encounter.": self.tr("No model results in this encounter."),
            "Opened by": self.tr("Opened by"),
            "Patient": self.tr("Patient"),
            "Results": self.tr("Results"),
            "Sex": self.tr("Sex"),
            "Stethos encounter report": self.tr("Stethos encounter report"),
            "Value": self.tr("Value"),
            "With the model heat map": self.tr("With the model heat map"),
        }
        p, enc = content.patient, content.encounter
        born = p.birth_date.isoformat() if p.birth_date else self.tr("unknown")
        sex = {"F": self.tr("Female"), "M": self.tr("Male"), "O": self.tr("Other")}.get(
            p.sex, self.tr("Unknown")
        )
        parts = [
            "<html><body style='font-family: sans-serif; font-size: 10pt;'>",
            f"<h1>{label['Stethos encounter report']}</h1>",
            "<table cellpadding='3' border='1' cellspacing='0' width='100%'>",
            f"<tr><td><b>{label['Patient']}</b></td><td>{_e(p.display_name)}</td>",
            f"<td><b>{label['MRN']}</b></td><td>{_e(p.mrn)}</td></tr>",
            f"<tr><td><b>{label['Birth date']}</b></td><td>{_e(born)}</td>",
            f"<td><b>{label['Sex']}</b></td><td>{_e(sex)}</td></tr>",
            f"<tr><td><b>{label['Encounter']}</b></td><td>{when_text(enc.started_at)}"
            f"{(' — ' + _e(enc.reason)) if enc.reason else ''}</td>",
            f"<td><b>{label['Opened by']}</b></td><td>{_e(enc.created_by)}</td></tr>",
            "</table>",
        ]
        if content.image is None and content.image_notes:
            parts.append(f"<h2>{label['Image']}</h2>")
        if content.image is not None:
            parts.append(f"<h2>{label['Image']}</h2><p>{_e(content.image_caption)}</p>")
            parts.append("<table cellpadding='4'><tr>")
            parts.append(
                f"<td align='center'><img src='report://image' width='300'><br>{label['Image']}</td>"
            )
            if content.image_with_heatmap is not None:
                parts.append(
                    "<td align='center'><img src='report://heatmap' width='300'><br>"
                    f"{label['With the model heat map']}</td>"
                )
            parts.append("</tr></table>")
        parts.extend(f"<p><i>{_e(note)}</i></p>" for note in content.image_notes)
        if content.ecg is None and content.ecg_notes:
            parts.append(f"<h2>{label['ECG']}</h2>")
        if content.ecg is not None:
            parts.append(f"<h2>{label['ECG']}</h2><p>{_e(content.ecg_caption)}</p>")
            parts.append("<p><img src='report://ecg' width='640'></p>")
        parts.extend(f"<p><i>{_e(note)}</i></p>" for note in content.ecg_notes)
        for rec in content.records:
            parts.append(
                "<h2>"
                + self.tr("Record (recorded by {0} on {1}, version {2})").format(
                    _e(rec.recorded_by), when_text(rec.recorded_at), rec.version
                )
                + "</h2>"
            )
            parts.append("<table cellpadding='3' border='1' cellspacing='0'>")
            parts.append(f"<tr><th>{label['Finding']}</th><th>{label['Value']}</th></tr>")
            parts.append(self.record_rows(rec, content.schema))
            parts.append("</table>")
        parts.append(f"<h2>{label['Results']}</h2>")
        if not content.results:
            parts.append(f"<p>{label['No model results in this encounter.']}</p>")
        for saved in content.results:
            model_id = saved.stored.model_id
            parts.append(self.result_block(saved, content.intended_uses.get(model_id, "")))
        parts.append("<hr>")
        parts.append(
            "<p style='font-size: 8pt;'>"
            + self.tr("Generated by Stethos {0} on {1} for {2}.").format(
                _e(content.software_version),
                when_text(datetime.now().astimezone()),
                _e(content.signed_by),
            )
            + "</p></body></html>"
        )
        return "".join(parts)

    def document(self, content: ReportContent) -> QTextDocument:
        """The report as a text document, its pictures attached (UI thread)."""
        doc = QTextDocument()
        for name, image in (
            ("image", content.image),
            ("heatmap", content.image_with_heatmap),
            ("ecg", content.ecg),
        ):
            if image is not None:
                doc.addResource(
                    QTextDocument.ResourceType.ImageResource, QUrl(f"report://{name}"), image
                )
        doc.setHtml(self.html(content))
        return doc

    def print_to(self, content: ReportContent, printer: QPrinter) -> None:
        """Print the report on ``printer`` (A4 portrait, 15 mm margins unless the user chose)."""
        doc = self.document(content)
        doc.print_(printer)

    def write_pdf(self, content: ReportContent, path: str | Path) -> Path:
        """Write the report of ``content`` to ``path`` (A4, PDF); returns the path.

        The PDF is made in memory and written with Python's file calls, so a
        missing folder, a read-only place or a full disk raise ``OSError``
        (Qt's writer would only print a warning).
        """
        path = Path(path)
        doc = self.document(content)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        writer = QPdfWriter(buffer)
        writer.setTitle(self.tr("Stethos encounter report"))
        writer.setCreator(f"Stethos {content.software_version}")
        writer.setResolution(150)
        writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(15, 15, 15, 15),
                QPageLayout.Unit.Millimeter,
            )
        )
        doc.setPageSize(QSizeF(writer.width(), writer.height()))
        doc.print_(writer)
        del writer  # flushes the PDF into the buffer
        data = bytes(buffer.data().data())
        buffer.close()
        if not data.startswith(b"%PDF"):
            raise OSError(f"the PDF of {path.name} could not be made")
        with open(path, "wb") as fh:
            fh.write(data)
        return path


def report_html(content: ReportContent) -> str:
    """The report of ``content`` as HTML."""
    return EncounterReport().html(content)


def print_report(content: ReportContent, printer: QPrinter) -> None:
    """Print the report of ``content`` on ``printer`` (UI thread)."""
    EncounterReport().print_to(content, printer)


def write_report_pdf(content: ReportContent, path: str | Path) -> Path:
    """Write the report of ``content`` to ``path`` (A4, PDF); returns the path."""
    return EncounterReport().write_pdf(content, path)


# --- from the engine's report data to pictures ------------------------------------------------
def report_content(
    data: ReportData, views: ScreenViews | None = None, schema: RecordSchema = HEART_RECORD
) -> ReportContent:
    """What to draw for ``data``; ``views`` are the pictures on screen (current encounter).

    Runs on the UI thread: the ECG strip is drawn by the ECG views.
    """
    content = ReportContent(
        patient=data.patient,
        encounter=data.encounter,
        records=list(data.records),
        results=[r.saved for r in data.results],
        schema=schema,
        software_version=data.software_version,
        signed_by=data.signed_by,
        intended_uses=data.intended_uses,
    )
    if views is not None:
        _add_views(content, views)
    if content.image is None and data.image is not None:
        content.image = qimage(data.image.pixels)
        content.image_caption = data.image.caption
        if data.image.heatmap is not None:
            content.image_with_heatmap = with_heatmap(content.image, data.image.heatmap, 0.5)
    if content.ecg is None and data.ecg is not None:
        content.ecg = ecg_strip(data.ecg)
        content.ecg_caption = " · ".join(
            (
                Path(data.ecg.path).name,
                translate("PatientController", "{0} Hz").format(f"{data.ecg.signal.fs:g}"),
                translate("PatientController", "first {0:g} s").format(data.ecg.seconds),
                translate("PatientController", "beats labelled by {0} {1}").format(
                    data.ecg.model_id, data.ecg.model_version
                ),
            )
        )
    for note in data.unavailable:
        (content.image_notes if note.kind == "image" else content.ecg_notes).append(
            not_available_text(note)
        )
    return content


def not_available_text(note: Unavailable) -> str:
    """“Image not available: <file> (<why>)” in the interface language."""
    reason = note.reason or translate("PatientController", "file missing")
    if note.kind == "ecg":
        return translate("PatientController", "ECG not available: {0} ({1})").format(
            note.path, reason
        )
    return translate("PatientController", "Image not available: {0} ({1})").format(
        note.path, reason
    )


def _add_views(content: ReportContent, views: ScreenViews) -> None:
    """The image shown (with and without its heat map) and the ECG shown."""
    if views.image is not None:
        content.image = qimage(views.image)
        content.image_caption = views.image_caption
        if views.heatmap is not None:
            content.image_with_heatmap = with_heatmap(
                content.image, views.heatmap, views.heatmap_opacity
            )
    if views.ecg is not None:
        content.ecg = views.ecg
        beats = ""
        if views.ecg_beats_by is not None:
            beats = translate("PatientController", "beats labelled by {0} {1}").format(
                *views.ecg_beats_by
            )
        content.ecg_caption = " · ".join(
            t
            for t in (translate("PatientController", "{0} Hz").format(f"{views.ecg_fs:g}"), beats)
            if t
        )


def qimage(data: np.ndarray) -> QImage:
    """An 8-bit grayscale ``(H, W)`` or RGB ``(H, W, 3)`` array as a QImage (copied)."""
    data = np.ascontiguousarray(data)
    if data.ndim == 3:
        fmt, stride = QImage.Format.Format_RGB888, data.shape[1] * 3
    else:
        fmt, stride = QImage.Format.Format_Grayscale8, data.shape[1]
    return QImage(data.data, data.shape[1], data.shape[0], stride, fmt).copy()


def with_heatmap(base: QImage, heat: np.ndarray, opacity: float) -> QImage:
    """``base`` with the heat map stretched over it, as the viewer draws it."""
    rgba = np.ascontiguousarray(heatmap_rgba(heat))
    layer = QImage(
        rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
        QImage.Format.Format_ARGB32_Premultiplied,
    ).copy()  # fmt: skip
    combined = base.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(combined)
    painter.setOpacity(opacity)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.drawImage(combined.rect(), layer)
    painter.end()
    return combined


def ecg_strip(ecg: ReportEcg) -> QImage:
    """The first ``ecg.seconds`` of the ECG on paper, beats labelled (UI thread).

    A 12-lead record is drawn as the conventional print, as the ECG tab shows it.
    """
    from desktop.ecg.views import StripView, TwelveLeadView
    from engine.ecg import STANDARD_LEADS

    signal = ecg.signal
    view: TwelveLeadView | StripView
    if all(lead in signal.leads for lead in STANDARD_LEADS):
        view = TwelveLeadView()
        _draw_ecg(view, ecg)
        view.resize(view.sizeHint())
    else:
        view = StripView()
        _draw_ecg(view, ecg)
        scale = view.scale()
        width = math.ceil(view.trace_left() + ecg.seconds * scale.px_per_s + 8 * scale.px_per_mm_x)
        view.resize(width, view.sizeHint().height())
    image = view.grab().toImage()
    view.deleteLater()
    return image


def _draw_ecg(view, ecg: ReportEcg) -> None:
    view.set_dpi(96.0)
    view.set_signal(ecg.signal)
    view.set_beats(ecg.beats, ecg.lead_index)
