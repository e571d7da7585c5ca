"""ECG signals: WFDB and DICOM waveform records, filtering, beat detection."""
