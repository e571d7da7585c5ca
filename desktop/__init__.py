"""Stethos desktop: the PySide6 front end. Thin views; long work goes through jobs."""
