"""Patients, records and results kept on the workstation (the Patient menu and dock)."""

from desktop.patients.controller import PatientController, install_patients

__all__ = ["PatientController", "install_patients"]
