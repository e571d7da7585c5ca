"""Words of the engine's record schemas, marked for translation.

The record form shows ``engine.records`` labels, units and choices through
``self.tr``; lupdate cannot see those runtime strings, so they are listed
here under the form's context. ``tests/desktop/test_i18n.py`` checks that
every string of every schema the form shows is in this list.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

RECORD_WORDS = (
    QT_TRANSLATE_NOOP("RecordForm", "Age"),
    QT_TRANSLATE_NOOP("RecordForm", "years"),
    QT_TRANSLATE_NOOP("RecordForm", "Sex"),
    QT_TRANSLATE_NOOP("RecordForm", "Female"),
    QT_TRANSLATE_NOOP("RecordForm", "Male"),
    QT_TRANSLATE_NOOP("RecordForm", "Chest pain type"),
    QT_TRANSLATE_NOOP("RecordForm", "Typical angina"),
    QT_TRANSLATE_NOOP("RecordForm", "Atypical angina"),
    QT_TRANSLATE_NOOP("RecordForm", "Non-anginal pain"),
    QT_TRANSLATE_NOOP("RecordForm", "Asymptomatic"),
    QT_TRANSLATE_NOOP("RecordForm", "Resting blood pressure (systolic)"),
    QT_TRANSLATE_NOOP("RecordForm", "mmHg"),
    QT_TRANSLATE_NOOP("RecordForm", "kPa"),
    QT_TRANSLATE_NOOP("RecordForm", "Serum cholesterol"),
    QT_TRANSLATE_NOOP("RecordForm", "mg/dL"),
    QT_TRANSLATE_NOOP("RecordForm", "mmol/L"),
    QT_TRANSLATE_NOOP("RecordForm", "Fasting blood sugar > 120 mg/dL"),
    QT_TRANSLATE_NOOP("RecordForm", "No"),
    QT_TRANSLATE_NOOP("RecordForm", "Yes"),
    QT_TRANSLATE_NOOP("RecordForm", "Resting ECG"),
    QT_TRANSLATE_NOOP("RecordForm", "Normal"),
    QT_TRANSLATE_NOOP("RecordForm", "ST-T wave abnormality"),
    QT_TRANSLATE_NOOP("RecordForm", "Probable/definite LV hypertrophy (Estes)"),
    QT_TRANSLATE_NOOP("RecordForm", "Maximum heart rate on exercise"),
    QT_TRANSLATE_NOOP("RecordForm", "bpm"),
    QT_TRANSLATE_NOOP("RecordForm", "Exercise-induced angina"),
    QT_TRANSLATE_NOOP("RecordForm", "ST depression on exercise vs rest"),
    QT_TRANSLATE_NOOP("RecordForm", "mm"),
    QT_TRANSLATE_NOOP("RecordForm", "mV"),
    QT_TRANSLATE_NOOP("RecordForm", "Slope of peak exercise ST segment"),
    QT_TRANSLATE_NOOP("RecordForm", "Upsloping"),
    QT_TRANSLATE_NOOP("RecordForm", "Flat"),
    QT_TRANSLATE_NOOP("RecordForm", "Downsloping"),
    QT_TRANSLATE_NOOP("RecordForm", "Major vessels coloured by fluoroscopy"),
    QT_TRANSLATE_NOOP("RecordForm", "vessels"),
    QT_TRANSLATE_NOOP("RecordForm", "Thallium stress test"),
    QT_TRANSLATE_NOOP("RecordForm", "Fixed defect"),
    QT_TRANSLATE_NOOP("RecordForm", "Reversible defect"),
    QT_TRANSLATE_NOOP("RecordForm", "not recorded"),
)
