"""A throw-away Secret Service for the keyring tests: GNOME Keyring on a private D-Bus.

Debian's ``dbus-daemon`` and ``gnome-keyring-daemon`` (package
``gnome-keyring``) run in a temporary folder: a session bus of their own
(nothing on it is activated on demand, so no other keyring or prompt can
answer) and the keyring daemon with a fresh login collection, unlocked by
the password given on its standard input as a desktop login does. Tests
point ``DBUS_SESSION_BUS_ADDRESS`` at that bus; both daemons are stopped and
the folder deleted afterwards. The user's own session bus is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SECRETS_NAME = "org.freedesktop.secrets"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def missing() -> str | None:
    """Why a Secret Service cannot be started here (``None``: it can)."""
    for program, package in (
        ("dbus-daemon", "dbus-daemon"),
        ("gnome-keyring-daemon", "gnome-keyring"),
    ):
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian: apt install {package})"
    try:
        import jeepney  # noqa: F401  (keyring's Secret Service backend talks D-Bus through it)
        import secretstorage  # noqa: F401
    except ImportError as exc:
        return f"the keyring package's Secret Service libraries are missing: {exc}"
    return None


class SecretService:
    """A private session bus with GNOME Keyring on it; :attr:`address` is the bus."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stethos-secrets-"))
        self.address = ""
        self._bus: subprocess.Popen[str] | None = None
        self._keyring: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> SecretService:
        """Start the bus and the keyring daemon; returns once the keyring is on the bus."""
        run = self.root / "run"
        run.mkdir(mode=0o700)
        config = self.root / "session.conf"
        config.write_text(_CONFIG.format(socket=run / "bus"), encoding="utf-8")
        self._bus = subprocess.Popen(
            ["dbus-daemon", "--config-file", str(config), "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self._bus.stdout is not None
        self.address = self._bus.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "XDG_DATA_HOME": str(self.root / "home" / "data"),
            "XDG_RUNTIME_DIR": str(run),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }
        self._keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert self._keyring.stdin is not None
        self._keyring.stdin.write(b"the-login-password")  # as a desktop login unlocks it
        self._keyring.stdin.close()
        deadline = time.monotonic() + timeout_s
        while not self._keyring_on_bus():
            if time.monotonic() > deadline or self._keyring.poll() is not None:
                self.stop()
                raise RuntimeError("gnome-keyring-daemon did not come up on the test bus")
            time.sleep(0.05)
        return self

    def _keyring_on_bus(self) -> bool:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        with open_dbus_connection(self.address) as conn:
            reply = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", (SECRETS_NAME,))
            )
        return bool(reply.body[0])

    def stop(self) -> None:
        """Stop both daemons (the ones started here, by their process) and delete the folder."""
        for process in (self._keyring, self._bus):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        if self._bus is not None and self._bus.stdout is not None:
            self._bus.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)
