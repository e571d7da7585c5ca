"""Patients, records and results kept on the workstation (the Patient menu and dock)."""

from desktop.patients.controller import PatientController, install_patients
from desktop.patients.host import PatientHost, ScreenViews

__all__ = ["PatientController", "PatientHost", "ScreenViews", "install_patients"]
