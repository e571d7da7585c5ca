"""Signing in and out, first-run setup, recovery, passwords, accounts and the inactivity lock.

Every password check and account change runs through the store's job queue
(:mod:`engine.workflow.accounts`: Argon2 takes about half a second).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog

from desktop.jobs import JobFailure
from desktop.patients.dialogs import (
    ChangePasswordDialog,
    LockDialog,
    RecoverAccessDialog,
    RecoveryKeyDialog,
    SetupDialog,
    SignInDialog,
    UsersDialog,
)
from desktop.settings import (
    DEFAULT_LOCK_MINUTES,
    LOCK_MINUTES_RANGE,
    Preferences,
    load_preferences,
    preferences_notifier,
)
from engine.errors import DatabasePasswordError, StoreUnreachableError
from engine.store import Store
from engine.workflow import (
    add_user,
    change_password,
    list_users,
    new_recovery_key,
    set_access,
    setup_store,
    sign_in,
    sign_out,
    unlock,
)

if TYPE_CHECKING:
    from desktop.patients.controller import PatientController

translate = QCoreApplication.translate

#: How long closing the window waits for the store work queued (saves) to end.
STORE_SHUTDOWN_WAIT_S = 10.0

_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


def make_action(parent: QObject | None, text: str, slot, name: str) -> QAction:
    """A menu action named ``name`` that calls ``slot()`` (without ``checked``)."""
    action = QAction(text, parent)
    action.setObjectName(name)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def _app() -> QCoreApplication:
    app = QApplication.instance()
    assert app is not None, "the patient controllers need the application"
    return app


class SessionController(QObject):
    """Sign in / set up / recover, sign out, passwords, accounts, and the lock."""

    def __init__(self, ctl: PatientController) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        self.recovery_dialog: RecoveryKeyDialog | None = None
        self._docks_before_lock = (True, True)
        w = ctl.window
        self.sign_in_action = make_action(
            w, translate("PatientController", "&Sign in…"), self.sign_in, "sign_in_action"
        )
        self.sign_out_action = make_action(
            w, translate("PatientController", "Sign &out"), self.sign_out, "sign_out_action"
        )
        self.change_password_action = make_action(
            w,
            translate("PatientController", "&Change password…"),
            self.change_password,
            "change_password_action",
        )
        self.users_action = make_action(
            w, translate("PatientController", "&Users…"), self.manage_users, "users_action"
        )
        self._lock_timeout_s = DEFAULT_LOCK_MINUTES * 60.0
        # One shot per timeout: when it fires early (input since), it is re-armed for the rest.
        self.lock_timer = QTimer(self)
        self.lock_timer.setSingleShot(True)
        self.lock_timer.timeout.connect(self._on_lock_timer_timeout)
        self.set_lock_minutes(load_preferences().lock_minutes)
        preferences_notifier().saved.connect(self._on_preferences_saved)
        _app().installEventFilter(self)

    def menu_actions(self) -> list[QAction]:
        """Sign in, sign out, change password, users (in menu order)."""
        return [
            self.sign_in_action,
            self.sign_out_action,
            self.change_password_action,
            self.users_action,
        ]

    def update_state(self) -> None:
        store, on = self.ctl.store, self.ctl.active
        admin = on and store is not None and store.user.is_admin
        self.sign_in_action.setEnabled(store is None and self.ctl.store_path is not None)
        self.sign_in_action.setToolTip(self.ctl.store_problem)  # why it is off, if it is
        self.sign_in_action.setText(
            translate("PatientController", "&Sign in…")
            if self.ctl.store_in_place() or self.ctl.store_path is None
            else translate("PatientController", "&Set up…")
        )
        for action in (self.sign_out_action, self.change_password_action):
            action.setEnabled(on)
        self.users_action.setEnabled(admin)
        self.users_action.setVisible(admin)  # clinicians manage no accounts

    # --- signing in ----------------------------------------------------------------------------
    @Slot()
    def sign_in(self) -> QDialog | None:
        """Sign in, or on the first run create the store (Patient ▸ Sign in… / Set up…)."""
        if self.ctl.store is not None:
            return None
        if self.ctl.store_path is None:  # the configured database cannot be used
            self.ctl.message(self.ctl.store_problem, warning=True)
            return None
        if not self.ctl.store_in_place():
            setup = SetupDialog(self.ctl.window)
            setup.submitted.connect(lambda: self._on_setup_submitted(setup))
            return self.ctl.open_dialog(setup)
        dialog = SignInDialog(self.ctl.window)
        dialog.submitted.connect(lambda: self._on_sign_in_submitted(dialog))
        dialog.recover_requested.connect(lambda: self.recover_access(dialog))
        return self.ctl.open_dialog(dialog)

    def recover_access(self, sign_in_dialog: QDialog | None = None) -> QDialog | None:
        """Restore a user's access with the recovery key (from the sign-in dialog)."""
        if self.ctl.store is not None or not self.ctl.store_in_place():
            return None
        if sign_in_dialog is not None:
            sign_in_dialog.reject()
        dialog = RecoverAccessDialog(self.ctl.window)

        def done(store: Store) -> None:
            dialog.accept()
            self._signed_in(store)
            self.ctl.message(
                translate(
                    "PatientController",
                    "Access restored for {0}; nothing stored was lost. The recovery key still "
                    "works: if it may have been seen by others, make a new one "
                    "(Patient ▸ Users… ▸ New recovery key…).",
                ).format(store.user.username)
            )

        dialog.submitted.connect(
            lambda: self._open_store(
                sign_in,
                dialog,
                "recover access",
                done,
                recovery_key=dialog.key.text().strip(),
                server_password=dialog.server_password(),
                on_failure=lambda failure: self._on_sign_in_failed(dialog, failure),
            )
        )
        return self.ctl.open_dialog(dialog)

    def _open_store(
        self,
        fn,
        dialog: SignInDialog | SetupDialog | RecoverAccessDialog,
        name: str,
        done,
        *args,
        **kwargs,
    ) -> None:
        """Set up, sign in or recover (``fn``) with the user name and password typed."""
        self.ctl.jobs.submit(
            fn,
            self.ctl.store_path,
            dialog.username.text().strip(),
            dialog.password.text(),
            *args,
            kdf=self.ctl.kdf,
            name=name,
            on_success=done,
            **kwargs,
        )

    def _on_setup_submitted(self, dialog: SetupDialog) -> None:
        def done(outcome: tuple[Store, str]) -> None:
            store, key = outcome
            dialog.accept()
            self._signed_in(store)
            self.recovery_dialog = RecoveryKeyDialog(key, self.ctl.window)
            self.ctl.open_dialog(self.recovery_dialog)

        self._open_store(setup_store, dialog, "setup", done, dialog.full_name.text())

    def _on_sign_in_submitted(self, dialog: SignInDialog) -> None:
        def done(store: Store) -> None:
            dialog.accept()
            self._signed_in(store)
            if store.user.must_change_password:
                self.change_password(forced=True)

        server_password = dialog.server_password()
        self._open_store(
            sign_in,
            dialog,
            "sign in",
            done,
            server_password=server_password,
            remember_server_password=server_password is not None
            and dialog.database.remember.isChecked(),
            on_failure=lambda failure: self._on_sign_in_failed(dialog, failure),
        )

    def _on_sign_in_failed(
        self, dialog: SignInDialog | RecoverAccessDialog, failure: JobFailure
    ) -> None:
        """Ask for the clinic database's password when its server wants one; else say why."""
        error = failure.error
        if not dialog.isVisible():  # closed meanwhile
            self.ctl.message(failure.user_message, warning=True)
        elif isinstance(error, DatabasePasswordError):
            if not error.refused:
                problem = ""
            elif error.saved:
                problem = translate(
                    "PatientController",
                    "The clinic database did not accept the password saved on this "
                    "workstation; IT may have changed it. Enter the current one.",
                )
            else:
                problem = translate(
                    "PatientController",
                    "The clinic database did not accept this database password. Check it with "
                    "IT and enter it again.",
                )
            dialog.ask_database_password(error.location, problem)
        elif isinstance(error, StoreUnreachableError):
            dialog.show_message(
                translate(
                    "PatientController",
                    "The clinic database cannot be reached: the server is down or the network "
                    "is cut. Try again in a moment; tell IT if it goes on.",
                )
            )
        else:
            dialog.show_message(failure.user_message)

    def _signed_in(self, store: Store) -> None:
        ctl = self.ctl
        ctl.store = store
        ctl.locked = False
        ctl.set_patient(None)
        ctl.host.show_patients_dock(ctl.dock, 400)
        ctl.patients.refresh_patients()
        self._restart_lock_timer()
        ctl.status(translate("PatientController", "Signed in as {0}.").format(store.user.username))
        ctl.update_state()

    @Slot()
    def sign_out(self) -> None:
        """Close the store (after the work queued on it) and forget the patient shown."""
        ctl = self.ctl
        self.lock_timer.stop()
        if isinstance(ctl.dialog, LockDialog):
            ctl.dialog.done(0)
        if ctl.store is not None:
            ctl.jobs.submit(sign_out, ctl.store, name="sign out")
        ctl.store = None
        ctl.locked = False
        ctl.set_patient(None)
        ctl.patients.show_timeline(None)
        ctl.panel.set_patients([])
        ctl.dock.hide()
        ctl.host.record_dock.show()
        ctl.status(translate("PatientController", "Signed out."))
        ctl.update_state()

    def shutdown(self) -> None:
        """On closing the window: finish the saves queued (up to 10 s), close the store."""
        ctl = self.ctl
        ctl.jobs.finish(STORE_SHUTDOWN_WAIT_S)
        _app().removeEventFilter(self)
        self.lock_timer.stop()
        if ctl.store is not None:
            store, ctl.store = ctl.store, None
            ctl.jobs.submit(sign_out, store, name="close")
            ctl.jobs.wait(5.0)

    # --- accounts ---------------------------------------------------------------------------------
    @Slot()
    def change_password(self, forced: bool = False) -> QDialog | None:
        """Change the signed-in user's password (``forced`` after an administrator's reset)."""
        if self.ctl.store is None:
            return None
        dialog = ChangePasswordDialog(self.ctl.window, forced=bool(forced))

        def changed(_none: None) -> None:
            dialog.accept()
            self.ctl.message(translate("PatientController", "Your password was changed."))

        dialog.submitted.connect(
            lambda: self.ctl.run(
                change_password,
                dialog.current.text(),
                dialog.password.text(),
                name="change password",
                on_success=changed,
            )
        )
        return self.ctl.open_dialog(dialog)

    @Slot()
    def manage_users(self) -> QDialog | None:
        """Administrators: add, reset and disable accounts, replace the recovery key."""
        store = self.ctl.store
        if store is None or not store.user.is_admin:
            return None
        dialog = UsersDialog([], self.ctl.window)
        run = self.ctl.run

        def added(users) -> None:
            dialog.set_users(users)
            dialog.show_message(translate("PatientController", "The account was added."))
            for edit in (dialog.username, dialog.full_name, dialog.password):
                edit.clear()

        def reset(username: str, password: str) -> None:
            dialog.set_busy(True)

            def done(users) -> None:
                dialog.set_users(users)
                dialog.show_message(
                    translate(
                        "PatientController",
                        "{0} must choose a new password at the next sign-in.",
                    ).format(username)
                )

            run(set_access, username, password, name="reset user", on_success=done)

        def disable(username: str) -> None:
            def done(users) -> None:
                dialog.set_users(users)
                dialog.show_message(
                    translate("PatientController", "{0} can no longer sign in.").format(username)
                )

            run(set_access, username, None, name="disable user", on_success=done)

        def replace_key() -> None:
            dialog.set_busy(True)

            def done(key: str) -> None:
                dialog.set_busy(False)
                dialog.show_message(translate("PatientController", "A new recovery key was made."))
                self.recovery_dialog = RecoveryKeyDialog(key, dialog, replaced=True)
                self.recovery_dialog.open()

            run(new_recovery_key, name="new recovery key", on_success=done)

        dialog.submitted.connect(
            lambda: run(
                add_user,
                dialog.username.text().strip(),
                dialog.password.text(),
                role=dialog.role.currentData(),
                full_name=dialog.full_name.text(),
                name="add user",
                on_success=added,
            )
        )
        dialog.reset_requested.connect(reset)
        dialog.disable_requested.connect(disable)
        dialog.recovery_key_requested.connect(replace_key)
        run(list_users, name="users", on_success=dialog.set_users)
        return self.ctl.open_dialog(dialog)

    # --- lock ----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        store = self.ctl.store
        if event.type() in _INPUT_EVENTS and store is not None and not self.ctl.locked:
            store.session.touch()
        return False

    @property
    def lock_timeout_s(self) -> float:
        """Seconds without input before the session locks."""
        return self._lock_timeout_s

    @lock_timeout_s.setter
    def lock_timeout_s(self, seconds: float) -> None:
        self._lock_timeout_s = max(0.0, float(seconds))
        self.lock_timer.setInterval(round(self._lock_timeout_s * 1000))
        if self.lock_timer.isActive():
            self._restart_lock_timer()

    def set_lock_minutes(self, minutes: int) -> None:
        """Lock after ``minutes`` (1 to 120) without input; applies at once."""
        low, high = LOCK_MINUTES_RANGE
        self.lock_timeout_s = min(max(int(minutes), low), high) * 60.0

    @Slot(object)
    def _on_preferences_saved(self, prefs: Preferences) -> None:
        self.set_lock_minutes(prefs.lock_minutes)

    def _restart_lock_timer(self) -> None:
        self.lock_timer.start(round(self._lock_timeout_s * 1000))

    @Slot()
    def _on_lock_timer_timeout(self) -> None:
        self.check_lock()
        store = self.ctl.store
        if store is not None and not self.ctl.locked:
            remaining = self._lock_timeout_s - store.session.idle_seconds()
            self.lock_timer.start(max(1000, math.ceil(remaining * 1000)))

    @Slot()
    def check_lock(self) -> None:
        """Lock when the session has been idle for :attr:`lock_timeout_s`."""
        store = self.ctl.store
        if store is not None and not self.ctl.locked:
            if store.session.is_locked(self.lock_timeout_s):
                self.lock()

    def lock(self) -> QDialog | None:
        """Hide patient data and ask for the password again."""
        ctl = self.ctl
        if ctl.store is None or ctl.locked:
            return None
        ctl.locked = True
        self.lock_timer.stop()
        self._docks_before_lock = (ctl.dock.isVisible(), ctl.host.record_dock.isVisible())
        ctl.dock.hide()
        ctl.host.record_dock.hide()
        ctl.update_state()
        dialog = LockDialog(ctl.store.user.username, ctl.window)
        dialog.submitted.connect(
            lambda: ctl.run(
                unlock,
                dialog.password.text(),
                name="unlock",
                on_success=lambda _: self._unlocked(dialog),
            )
        )
        dialog.sign_out_requested.connect(self.sign_out)
        return ctl.open_dialog(dialog)

    def _unlocked(self, dialog: LockDialog) -> None:
        ctl = self.ctl
        ctl.locked = False
        dialog.accept()
        patients, record = self._docks_before_lock
        ctl.dock.setVisible(patients)
        ctl.host.record_dock.setVisible(record)
        self._restart_lock_timer()
        ctl.update_state()
