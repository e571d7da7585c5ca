"""Typed errors of the engine.

Only :class:`EngineError` subclasses leave the public API. Each carries a
plain-language ``user_message`` saying what happened and what to do; the
technical cause is chained (``raise ... from exc``) and kept in ``detail``.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose.

    Parameters
    ----------
    user_message
        One or two sentences a clinician can act on.
    detail
        Optional technical detail for logs and the "Details" section.
    """

    def __init__(self, user_message: str, detail: str | None = None) -> None:
        super().__init__(user_message if detail is None else f"{user_message} ({detail})")
        self.user_message = user_message
        self.detail = detail


class OperationCancelled(EngineError):
    """Raised inside long work when its :class:`~engine.progress.CancelToken` is set."""

    def __init__(self) -> None:
        super().__init__("The operation was cancelled.")


# --- files and images -------------------------------------------------------
class DicomError(EngineError):
    """A DICOM file could not be used."""


class NotDicomError(DicomError):
    """The file is not DICOM at all."""


class CorruptDicomError(DicomError):
    """The file is DICOM but truncated or malformed."""


class UnsupportedDicomError(DicomError):
    """The file is valid DICOM but holds something the engine cannot show."""


class SignalError(EngineError):
    """An ECG record could not be read or processed."""


# --- records ----------------------------------------------------------------
class RecordValidationError(EngineError):
    """A patient record has missing or out-of-range values.

    ``problems`` maps field names to a message for that field.
    """

    def __init__(self, problems: dict[str, str]) -> None:
        names = ", ".join(sorted(problems))
        super().__init__(f"The record has invalid values: {names}. Correct them and try again.")
        self.problems = dict(problems)


# --- models -----------------------------------------------------------------
class ModelError(EngineError):
    """A model bundle could not be loaded or run."""


class BundleIntegrityError(ModelError):
    """A file of the bundle does not match the hash in its manifest."""


class BundleSchemaError(ModelError):
    """The manifest is missing, malformed or of an unknown schema version."""


class BundleCompatibilityError(ModelError):
    """The bundle needs package versions this installation does not have."""


class ModelNotFoundError(ModelError):
    """No bundle with the requested id is installed."""


class InputRejectedError(ModelError):
    """The input does not match what the model was made for (wrong view, modality, rate)."""


# --- storage ----------------------------------------------------------------
class StoreError(EngineError):
    """The local data store could not be read or written."""


class AuthenticationError(StoreError):
    """A user name, password or recovery key was not accepted."""


class PermissionDeniedError(StoreError):
    """The signed-in user may not do this (for example, only an administrator adds users)."""


class AuditError(StoreError):
    """The audit trail could not be written or read."""


class StoreConflictError(StoreError):
    """Someone else changed the same item first; reload it and apply the change again."""


class StoreUnreachableError(StoreError):
    """The clinic's shared database server cannot be reached (server down, network cut).

    Nothing of the change was written (it was one transaction); the next call
    reconnects, so the same action can simply be tried again.
    """


class DatabasePasswordError(AuthenticationError):
    """The clinic database's server asks this workstation for its password.

    Either none was given or saved here (``refused`` is false), or the one
    tried was not accepted (``refused``; ``saved``: it was the one saved on
    this workstation, perhaps changed since by IT). Not the user's own
    password, and not an unreachable server (:class:`StoreUnreachableError`).
    ``location`` is the database's address, without any password.
    """

    def __init__(
        self,
        user_message: str,
        location: str,
        *,
        refused: bool,
        saved: bool = False,
        detail: str | None = None,
    ) -> None:
        super().__init__(user_message, detail)
        self.location = location
        self.refused = refused
        self.saved = saved
