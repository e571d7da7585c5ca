"""A pytest plugin that fails any network access during the whole test run.

Stethos never talks to the network, and this plugin is how the suite proves
it: while the tests run, ``connect``, ``connect_ex``, ``bind``, ``sendto``
and ``sendmsg`` of an internet (AF_INET / AF_INET6) socket, and name lookups
(``getaddrinfo``, ``gethostbyname``), raise :class:`NetworkAccessError`
naming the code that tried. Local (AF_UNIX) sockets stay allowed:
multiprocessing, Qt and the engine's worker processes use them.

Registered from ``tests/conftest.py`` (``pytest_plugins``). A test that needs
to see the guard fire uses :func:`guard_active` to check it is installed.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Callable
from typing import Any

import pytest

_INTERNET = {socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET)}
_saved: dict[tuple[object, str], Any] = {}
#: Loopback addresses a test may reach while :func:`loopback_allowed` is on.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_loopback = [0]


class loopback_allowed:
    """Within this block, sockets may talk to the loopback interface only.

    For the DICOM network tests (issue 27): a throw-away Orthanc on 127.0.0.1
    and Stethos' own listener. Every other address stays refused, and the
    guard is back in force when the block ends.
    """

    def __enter__(self) -> loopback_allowed:
        _loopback[0] += 1
        return self

    def __exit__(self, *exc: object) -> None:
        _loopback[0] -= 1


def _is_loopback(target: object) -> bool:
    """Whether ``target`` (an address, or a host for a lookup) stays on this machine.

    Besides loopback hosts: a passive lookup (``None``, as a client resolves its own
    wildcard address) and the wildcard address with port 0 (the local end of an outgoing
    connection, bound to an ephemeral port: it accepts nothing)."""
    if _loopback[0] <= 0:
        return False
    host = target[0] if isinstance(target, tuple) and target else target
    if host is None:
        return True
    if isinstance(target, tuple) and len(target) >= 2 and host in ("", "0.0.0.0", "::"):
        return target[1] == 0
    return isinstance(host, str) and host in LOOPBACK_HOSTS


class NetworkAccessError(AssertionError):
    """Raised when code under test opens a network connection or resolves a name."""


def _caller() -> str:
    """``file:line in function`` of the first frame outside this plugin and the socket module."""
    here = __file__
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if name == here or name.endswith(("/socket.py", "/ssl.py")):
            continue
        return f"{name}:{frame.lineno} in {frame.name}"
    return "unknown caller"


def _refuse(what: str, target: object) -> NetworkAccessError:
    return NetworkAccessError(
        f"Network access is forbidden in the Stethos test suite: {what} {target!r} "
        f"attempted by {_caller()}"
    )


def _guard_method(name: str) -> Callable[..., Any]:
    original = getattr(socket.socket, name)

    def guarded(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if self.family in _INTERNET:
            target = args[-1] if name in ("sendto", "sendmsg") and args else (args or ("?",))[0]
            if not _is_loopback(target):
                raise _refuse(f"socket.{name} to", target)
        return original(self, *args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


def _guard_lookup(name: str) -> Callable[..., Any]:
    def guarded(host: object = None, *args: Any, **kwargs: Any) -> Any:
        if _is_loopback(host):
            return _saved[(socket, name)](host, *args, **kwargs)
        raise _refuse(f"socket.{name} of", host)

    return guarded


_METHODS = ("connect", "connect_ex", "bind", "sendto", "sendmsg")
_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")


def install() -> None:
    """Install the guard (idempotent)."""
    if guard_active():
        return
    for name in _METHODS:
        _saved[(socket.socket, name)] = getattr(socket.socket, name)
        setattr(socket.socket, name, _guard_method(name))
    for name in _LOOKUPS:
        _saved[(socket, name)] = getattr(socket, name)
        setattr(socket, name, _guard_lookup(name))


def uninstall() -> None:
    """Put the original socket functions back."""
    for (owner, name), original in _saved.items():
        setattr(owner, name, original)
    _saved.clear()


def guard_active() -> bool:
    """Whether the guard is installed."""
    return bool(_saved)


def pytest_configure(config: pytest.Config) -> None:
    install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()
