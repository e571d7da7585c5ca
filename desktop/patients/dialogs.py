"""Dialogs of the Patient menu: sign in, first-run setup, recovery key, passwords, users,
editing a patient or a record with the reason, and the history of earlier versions.

Each dialog only collects input and shows messages; the
:mod:`desktop.patients` controllers do the store work (always on a worker
thread, through :mod:`engine.workflow`) and report back with
:meth:`show_message`. Dialogs are opened with ``open()`` (not ``exec()``),
so tests drive them like a user.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.records.form import RecordForm

_ERROR_STYLE = "color: #c62828;"


class _FormDialog(QDialog):
    """A form, a message line and OK/Cancel; ``submitted`` replaces accept()."""

    submitted = Signal()

    def __init__(self, title: str, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.message = QLabel("")
        self.message.setObjectName("dialog_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(_ERROR_STYLE)
        self.message.hide()
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _password(self, name: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        return edit

    def show_message(self, text: str) -> None:
        """Show a problem (wrong password, weak password…) and let the user retry."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.set_busy(False)
        self.adjustSize()

    def set_busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)

    def check(self) -> str:
        """A problem with the input, or ``""`` (subclasses)."""
        return ""

    def _on_ok(self) -> None:
        problem = self.check()
        if problem:
            self.show_message(problem)
            return
        self.message.hide()
        self.set_busy(True)
        self.submitted.emit()


class DatabasePasswordBox(QWidget):
    """The clinic database's own password, hidden until its server asks for one.

    Used by the sign-in and recover-access dialogs; the password is not the
    person's own (it comes from IT), and is saved on this workstation only as
    the credentials module keeps it (system keyring or wrapped, never plain).
    """

    def __init__(self, password: QLineEdit, *, can_forget: bool = True) -> None:
        super().__init__()
        self.setObjectName("database_box")
        box = QFormLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.intro = QLabel("")
        self.intro.setObjectName("database_intro")
        self.intro.setWordWrap(True)
        self.intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addRow(self.intro)
        self.password = password
        box.addRow(self.tr("Database password:"), self.password)
        self.remember = QCheckBox(self.tr("Remember on this workstation"))
        self.remember.setObjectName("remember_database")
        self.remember.setChecked(True)
        self.remember.setToolTip(
            self.tr(
                "Kept in the system keyring where there is one, otherwise encrypted under your "
                "own password; never in plain text."
            )
        )
        self.remember.setVisible(can_forget)
        box.addRow(self.remember)
        self.hide()

    def ask(self, location: str) -> None:
        """Show the box for the database at ``location``, the password selected."""
        self.intro.setText(
            self.tr(
                "The clinic database {0} asks this workstation for its own password. It comes "
                "from IT and is not your personal password."
            ).format(location)
        )
        self.show()
        self.password.selectAll()
        self.password.setFocus()

    def password_typed(self) -> str | None:
        """The password typed, or ``None`` when it was not asked for."""
        return None if self.isHidden() else self.password.text()

    def check(self) -> str:
        """A problem with what was typed, or ``""``."""
        if self.password_typed() == "":
            return self.tr("Enter the clinic database password.")
        return ""


class SignInDialog(_FormDialog):
    """User name and password; ``recover_requested`` when the password is lost."""

    recover_requested = Signal()

    def __init__(self, parent: QWidget | None = None, username: str = "") -> None:
        super().__init__(
            self.tr("Sign in"),
            self.tr("Sign in to see and save patients, records and results."),
            parent,
        )
        self.username = QLineEdit(username)
        self.username.setObjectName("username")
        self.password = self._password("password")
        self.form.addRow(self.tr("User name:"), self.username)
        self.form.addRow(self.tr("Password:"), self.password)
        self.recover_button = QPushButton(self.tr("Forgot the password? Use the recovery key…"))
        self.recover_button.setObjectName("recover_button")
        self.recover_button.setFlat(True)
        self.recover_button.clicked.connect(self.recover_requested)
        self.form.addRow(self.recover_button)
        # The clinic database's own password: shown only once its server asked for one.
        self.database = DatabasePasswordBox(self._password("database_password"))
        self.form.addRow(self.database)
        (self.password if username else self.username).setFocus()

    def ask_database_password(self, location: str, problem: str) -> None:
        """Ask for the clinic database's password (for ``location``), saying ``problem``."""
        self.database.ask(location)
        self.show_message(problem)

    def server_password(self) -> str | None:
        """The clinic database's password typed, or ``None`` when it was not asked for."""
        return self.database.password_typed()

    def check(self) -> str:
        if not self.username.text().strip() or not self.password.text():
            return self.tr("Enter your user name and password.")
        return self.database.check()


class SetupDialog(_FormDialog):
    """First run: the administrator's account."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            self.tr("Set up patient storage"),
            self.tr(
                "No patient database exists on this workstation yet. Create the administrator "
                "account: the administrator adds the clinicians' accounts. Patients, records "
                "and results are stored encrypted on this computer only."
            ),
            parent,
        )
        self.username = QLineEdit("admin")
        self.username.setObjectName("username")
        self.full_name = QLineEdit()
        self.full_name.setObjectName("full_name")
        self.password = self._password("password")
        self.repeat = self._password("repeat")
        self.form.addRow(self.tr("Administrator user name:"), self.username)
        self.form.addRow(self.tr("Full name:"), self.full_name)
        self.form.addRow(self.tr("Password:"), self.password)
        self.form.addRow(self.tr("Repeat password:"), self.repeat)

    def check(self) -> str:
        if not self.username.text().strip():
            return self.tr("Enter a user name.")
        if self.password.text() != self.repeat.text():
            return self.tr("The two passwords differ. Type them again.")
        return ""


class RecoveryKeyDialog(QDialog):
    """Shows the recovery key once; closes only after “I have written it down”."""

    def __init__(self, key: str, parent: QWidget | None = None, replaced: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Recovery key"))
        self.setModal(True)
        layout = QVBoxLayout(self)
        text = QLabel(
            self.tr(
                "Write this recovery key down on paper and keep it locked away. It is shown "
                "only now. If every password is lost, it is the only way to open the patient "
                "database again."
            )
            + (
                " "
                + self.tr(
                    "Print or copy it now: the previous recovery key no longer opens the database."
                )
                if replaced
                else ""
            )
        )
        text.setWordWrap(True)
        text.setObjectName("recovery_explanation")
        layout.addWidget(text)
        self.explanation = text
        self.key = QLabel(key)
        self.key.setObjectName("recovery_key")
        self.key.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.key.setFont(font)
        layout.addWidget(self.key)
        copy = QPushButton(self.tr("Copy"))
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(key))
        layout.addWidget(copy)
        self.confirm = QCheckBox(self.tr("I have written it down"))
        self.confirm.setObjectName("recovery_confirm")
        layout.addWidget(self.confirm)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.confirm.toggled.connect(
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled
        )
        self.buttons.accepted.connect(self.accept)
        layout.addWidget(self.buttons)

    def reject(self) -> None:
        if self.confirm.isChecked():
            super().reject()  # Escape closes only once confirmed


class ChangePasswordDialog(_FormDialog):
    """The signed-in user's current and new password."""

    def __init__(self, parent: QWidget | None = None, forced: bool = False) -> None:
        intro = (
            self.tr("Your password was reset by an administrator. Choose your own password now.")
            if forced
            else self.tr("Choose a new password.")
        )
        super().__init__(self.tr("Change password"), intro, parent)
        self.current = self._password("current")
        self.password = self._password("password")
        self.repeat = self._password("repeat")
        self.form.addRow(self.tr("Current password:"), self.current)
        self.form.addRow(self.tr("New password:"), self.password)
        self.form.addRow(self.tr("Repeat new password:"), self.repeat)

    def check(self) -> str:
        if self.password.text() != self.repeat.text():
            return self.tr("The two passwords differ. Type them again.")
        return ""


class UsersDialog(_FormDialog):
    """Administrators: list accounts, add a clinician, reset or disable someone's access,
    replace the recovery key."""

    reset_requested = Signal(str, str)
    disable_requested = Signal(str)
    recovery_key_requested = Signal()

    def __init__(self, users, parent: QWidget | None = None) -> None:
        super().__init__(
            self.tr("Users"),
            self.tr(
                "Add a clinician's account, or give a user who forgot their password a "
                "temporary one (they choose their own at the next sign-in)."
            ),
            parent,
        )
        self.users = QListWidget()
        self.users.setObjectName("users_list")
        self.form.addRow(self.users)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.full_name = QLineEdit()
        self.full_name.setObjectName("full_name")
        self.role = QComboBox()
        self.role.addItem(self.tr("Clinician"), "clinician")
        self.role.addItem(self.tr("Administrator"), "admin")
        self.password = self._password("password")
        self.form.addRow(self.tr("User name:"), self.username)
        self.form.addRow(self.tr("Full name:"), self.full_name)
        self.form.addRow(self.tr("Role:"), self.role)
        self.form.addRow(self.tr("Password (temporary):"), self.password)
        self.ok_button.setText(self.tr("Add user"))
        self.reset_button = QPushButton(self.tr("Reset access of selected user"))
        self.reset_button.setObjectName("reset_button")
        self.reset_button.clicked.connect(self._on_reset_clicked)
        self.form.addRow(self.reset_button)
        self.disable_button = QPushButton(self.tr("Disable selected user"))
        self.disable_button.setObjectName("disable_button")
        self.disable_button.setToolTip(
            self.tr(
                "The user can no longer sign in; what they recorded stays attributed to them. "
                "Reset their access to enable the account again."
            )
        )
        self.disable_button.clicked.connect(self._on_disable_clicked)
        self.form.addRow(self.disable_button)
        self.recovery_button = QPushButton(self.tr("New recovery key…"))
        self.recovery_button.setObjectName("recovery_button")
        self.recovery_button.setToolTip(
            self.tr("Make a new recovery key (shown once); the previous one stops working.")
        )
        self.recovery_button.clicked.connect(self.recovery_key_requested)
        self.form.addRow(self.recovery_button)
        self.set_users(users)

    def set_users(self, users) -> None:
        self.users.clear()
        for u in users:
            role = self.tr("administrator") if u.is_admin else self.tr("clinician")
            state = "" if u.active else self.tr(" (disabled)")
            item = QListWidgetItem(f"{u.username} — {u.full_name or '–'} — {role}{state}")
            item.setData(Qt.ItemDataRole.UserRole, u.username)
            self.users.addItem(item)

    def check(self) -> str:
        if not self.username.text().strip():
            return self.tr("Enter a user name.")
        return ""

    def select_user(self, username: str) -> None:
        """Select ``username`` in the list (tests, and after a change)."""
        for i in range(self.users.count()):
            if self.users.item(i).data(Qt.ItemDataRole.UserRole) == username:
                self.users.setCurrentRow(i)
                return

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        for button in (self.reset_button, self.disable_button, self.recovery_button):
            button.setEnabled(not busy)

    def _on_disable_clicked(self) -> None:
        item = self.users.currentItem()
        if item is None:
            self.show_message(self.tr("Select a user in the list first."))
            return
        self.set_busy(True)
        self.disable_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _on_reset_clicked(self) -> None:
        item = self.users.currentItem()
        if item is None:
            self.show_message(self.tr("Select a user in the list first."))
            return
        if not self.password.text():
            self.show_message(self.tr("Type the temporary password in the password field."))
            return
        self.reset_requested.emit(item.data(Qt.ItemDataRole.UserRole), self.password.text())


class RecoverAccessDialog(_FormDialog):
    """The recovery key, a user name and that user's new password."""

    def __init__(self, parent: QWidget | None = None, username: str = "") -> None:
        super().__init__(
            self.tr("Recover access"),
            self.tr(
                "Type the recovery key printed when this workstation was set up, the user "
                "whose access is restored (usually the administrator) and a new password. "
                "Nothing stored is lost."
            ),
            parent,
        )
        self.key = QLineEdit()
        self.key.setObjectName("recovery_key")
        self.key.setPlaceholderText(self.tr("8 groups of 4 letters and digits"))
        self.username = QLineEdit(username or "admin")
        self.username.setObjectName("username")
        self.password = self._password("password")
        self.repeat = self._password("repeat")
        self.form.addRow(self.tr("Recovery key:"), self.key)
        self.form.addRow(self.tr("User name:"), self.username)
        self.form.addRow(self.tr("New password:"), self.password)
        self.form.addRow(self.tr("Repeat new password:"), self.repeat)
        # A password saved for the clinic database was wrapped under the lost password: it is
        # typed again when the server asks, and then saved under the new one.
        self.database = DatabasePasswordBox(self._password("database_password"), can_forget=False)
        self.form.addRow(self.database)
        self.ok_button.setText(self.tr("Restore access"))

    def ask_database_password(self, location: str, problem: str) -> None:
        """Ask for the clinic database's password (for ``location``), saying ``problem``."""
        self.database.ask(location)
        self.show_message(problem)

    def server_password(self) -> str | None:
        """The clinic database's password typed, or ``None`` when it was not asked for."""
        return self.database.password_typed()

    def check(self) -> str:
        if not self.key.text().strip() or not self.username.text().strip():
            return self.tr("Enter the recovery key and the user name.")
        if self.password.text() != self.repeat.text():
            return self.tr("The two passwords differ. Type them again.")
        return self.database.check()


class NewPatientDialog(_FormDialog):
    """MRN, names, birth date and sex of a new patient."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("New patient"), self.tr("Register a patient."), parent)
        self.mrn = QLineEdit()
        self.mrn.setObjectName("mrn")
        self.family_name = QLineEdit()
        self.family_name.setObjectName("family_name")
        self.given_name = QLineEdit()
        self.given_name.setObjectName("given_name")
        self.birth_date = QLineEdit()
        self.birth_date.setObjectName("birth_date")
        self.birth_date.setPlaceholderText(self.tr("YYYY-MM-DD (blank if unknown)"))
        self.sex = QComboBox()
        self.sex.setObjectName("sex")
        # Nothing is preselected: a patient saved without a choice must not become female.
        self.sex.addItem(self.tr("— choose —"), None)
        for code, label in (
            ("F", self.tr("Female")),
            ("M", self.tr("Male")),
            ("O", self.tr("Other")),
            ("U", self.tr("Unknown")),
        ):
            self.sex.addItem(label, code)
        self.form.addRow(self.tr("Medical record number (MRN):"), self.mrn)
        self.form.addRow(self.tr("Family name:"), self.family_name)
        self.form.addRow(self.tr("Given name:"), self.given_name)
        self.form.addRow(self.tr("Birth date:"), self.birth_date)
        self.form.addRow(self.tr("Sex:"), self.sex)

    def values(self) -> dict:
        return {
            "mrn": self.mrn.text().strip(),
            "family_name": self.family_name.text().strip(),
            "given_name": self.given_name.text().strip(),
            "birth_date": self.birth_date.text().strip() or None,
            "sex": self.sex.currentData(),
        }

    def check(self) -> str:
        if not self.mrn.text().strip() or not self.family_name.text().strip():
            return self.tr("The MRN and the family name are required.")
        if self.sex.currentData() is None:
            return self.tr("Choose the patient's sex (Unknown if it is not known).")
        return ""


class EditPatientDialog(NewPatientDialog):
    """The patient form filled with the current values, and the reason for the change."""

    def __init__(self, patient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit patient"))
        self.intro.setText(
            self.tr(
                "Correct {0}'s identifying data. The earlier version is kept in the history "
                "with who changed it, when and why."
            ).format(patient.display_name)
        )
        self.mrn.setText(patient.mrn)
        self.family_name.setText(patient.family_name)
        self.given_name.setText(patient.given_name)
        self.birth_date.setText(patient.birth_date.isoformat() if patient.birth_date else "")
        self.sex.setCurrentIndex(max(self.sex.findData(patient.sex), 0))
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText(self.tr("e.g. typing error in the birth date"))
        self.form.addRow(self.tr("Reason for the change:"), self.reason)
        self.version = patient.version

    def check(self) -> str:
        problem = super().check()
        if problem:
            return problem
        if not self.reason.text().strip():
            return self.tr("Say why the data is changed: the reason is required.")
        return ""


class EditRecordDialog(_FormDialog):
    """The record form filled with a saved record's values, and the reason for the change."""

    def __init__(self, schema, values: dict, parent: QWidget | None = None) -> None:
        super().__init__(
            self.tr("Edit record"),
            self.tr(
                "Correct the values of this record. The values saved before are kept as an "
                "earlier version, with who changed them, when and why."
            ),
            parent,
        )
        self.setMinimumWidth(520)
        self.record_form = RecordForm(schema)
        self.record_form.setObjectName("edit_record_form")
        self.record_form.set_record(values)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.record_form)
        scroll.setMinimumHeight(360)
        self.form.addRow(scroll)
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText(self.tr("e.g. cholesterol result corrected by the lab"))
        self.form.addRow(self.tr("Reason for the change:"), self.reason)

    def check(self) -> str:
        form = self.record_form
        if not form.is_valid:
            problems = form.schema.problems(form.raw_values())
            lines = [form.message(name) or problems[name] for name in problems]
            return (
                self.tr("Nothing was saved. Correct these values first:") + "\n" + "\n".join(lines)
            )
        if not self.reason.text().strip():
            return self.tr("Say why the record is changed: the reason is required.")
        return ""


class HistoryDialog(QDialog):
    """Every version of a patient's data or of a record: when, who, why and what."""

    def __init__(
        self,
        title: str,
        intro: str,
        rows: list[tuple[str, str, str, str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumSize(640, 320)
        layout = QVBoxLayout(self)
        label = QLabel(intro)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.versions = QTreeWidget()
        self.versions.setObjectName("history_versions")
        self.versions.setHeaderLabels(
            [self.tr("Version"), self.tr("When"), self.tr("By"), self.tr("Reason"), self.tr("Data")]
        )
        self.versions.setRootIsDecorated(False)
        self.versions.setWordWrap(True)
        self.versions.setAlternatingRowColors(True)
        self.set_rows(rows)
        layout.addWidget(self.versions, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def set_rows(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        """Show these versions (version, when, by, reason, data), replacing any shown."""
        self.versions.clear()
        for row in rows:
            item = QTreeWidgetItem(list(row))
            item.setToolTip(4, row[4])
            self.versions.addTopLevelItem(item)
        for column in range(4):
            self.versions.resizeColumnToContents(column)

    def texts(self) -> list[str]:
        """Each version as one line (what a user reads)."""
        out = []
        for i in range(self.versions.topLevelItemCount()):
            item = self.versions.topLevelItem(i)
            if item is not None:
                out.append(" | ".join(item.text(c) for c in range(5)))
        return out


class OverrideDialog(_FormDialog):
    """Why the clinician overrides a result (required)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            self.tr("Override result"),
            self.tr("Say why you do not follow this result. The comment is kept with it."),
            parent,
        )
        self.comment = QPlainTextEdit()
        self.comment.setObjectName("override_comment")
        self.form.addRow(self.comment)

    def check(self) -> str:
        if not self.comment.toPlainText().strip():
            return self.tr("A comment is required to override a result.")
        return ""


class LockDialog(_FormDialog):
    """Shown after inactivity: the signed-in user's password opens the session again."""

    sign_out_requested = Signal()

    def __init__(self, username: str, parent: QWidget | None = None) -> None:
        super().__init__(
            self.tr("Session locked"),
            self.tr(
                "Stethos was locked after a period of inactivity. Enter the password of {0} "
                "to continue, or sign out."
            ).format(username),
            parent,
        )
        self.password = self._password("password")
        self.form.addRow(self.tr("Password:"), self.password)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.removeButton(cancel)
        cancel.deleteLater()
        sign_out = self.buttons.addButton(
            self.tr("Sign out"), QDialogButtonBox.ButtonRole.DestructiveRole
        )
        sign_out.clicked.connect(self.sign_out_requested)

    def reject(self) -> None:
        """Escape does not close the lock."""

    def check(self) -> str:
        return "" if self.password.text() else self.tr("Enter your password.")
