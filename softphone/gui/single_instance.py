"""One running softphone per user: later starts hand their ``sip:`` link to it and exit.

The first instance listens on a ``QLocalServer`` (a Unix socket, a named pipe
on Windows) named after the user; a second start connects with a
``QLocalSocket``, writes one line — ``DIAL <uri>`` or ``SHOW`` — and exits 0.
The name can be chosen with ``--instance-name`` or ``$SOFTPHONE_INSTANCE``
(the tests use a name of their own).
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("softphone.gui.instance")

ENV_NAME = "SOFTPHONE_INSTANCE"
CONNECT_TIMEOUT_MS = 1000
MAX_LINE = 4096


def server_name(override: str | None = None) -> str:
    """The local server's name: ``override``, ``$SOFTPHONE_INSTANCE`` or one derived from the user."""
    if override:
        return override
    env = os.environ.get(ENV_NAME)
    if env:
        return env
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(user.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"softphone-{digest}"


def send_to_running(name: str, message: str, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    """Hand ``message`` to the instance listening on ``name``; False when there is none.

    Blocks for at most about ``2 * timeout_ms``: used at start-up, before any window exists.
    """
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    data = (message.replace("\n", " ") + "\n").encode("utf-8")
    socket.write(data)
    ok = socket.waitForBytesWritten(timeout_ms)
    # Wait for the server's "OK" so that the message was read before we exit.
    if ok and socket.waitForReadyRead(timeout_ms):
        socket.readAll()
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return ok


def _answers(name: str, timeout_ms: int = 200) -> bool:
    """Whether a running instance listens on ``name`` (a connection is accepted)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    alive = socket.waitForConnected(timeout_ms)
    socket.abort()
    return alive


class SingleInstance(QObject):
    """The listening side: emits ``dial(uri)`` and ``activate()`` for what later starts send."""

    dial = Signal(str)
    activate = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def listen(self) -> bool:
        """Claim the name; False when another instance holds it (it answers). A socket left by a crashed
        instance (nobody answers) is removed first."""
        if self.server.listen(self.name):
            return True
        if _answers(self.name):
            return False
        QLocalServer.removeServer(self.name)
        if self.server.listen(self.name):
            return True
        log.warning("single-instance server %s: %s", self.name, self.server.errorString())
        return False

    def close(self) -> None:
        self.server.close()

    @Slot()
    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            if socket is None:
                break
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            if socket.bytesAvailable():
                self._on_ready(socket)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _on_ready(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(buffer) > MAX_LINE:
            socket.abort()
            return
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            self._handle(line.decode("utf-8", "replace").strip())
            socket.write(b"OK\n")
            socket.flush()
        self._buffers[socket] = buffer

    def _handle(self, line: str) -> None:
        command, _, argument = line.partition(" ")
        command = command.upper()
        if command == "DIAL" and argument.strip():
            self.activate.emit()
            self.dial.emit(argument.strip())
        elif command == "SHOW":
            self.activate.emit()
        else:
            log.info("single-instance server: ignored %r", line[:80])
