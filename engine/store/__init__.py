"""Local encrypted store and audit log."""
