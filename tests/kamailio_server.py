"""A real Kamailio registrar/proxy/presence server on loopback for tests.

Usage::

    with Kamailio() as server:
        server.udp_port, server.tcp_port, server.tls_port   # on server.host
        server.users["alice"]                                # her password
        server.restart()                                     # same ports, registrations gone

What ``start()`` does:

- picks free ports on 127.0.0.1 itself: one number free for both UDP and
  TCP, and a separate TLS port (plus the same UDP port on ``[::1]`` when the
  kernel has an IPv6 loopback address);
- writes, into a fresh temporary directory, the config rendered from
  ``tests/kamailio/kamailio.cfg.in``, an SQLite database built by running
  Kamailio's own schema files (``/usr/share/kamailio/db_sqlite/*-create.sql``:
  standard, auth_db and presence) and filled with the users, a self-signed
  TLS certificate and the ``tls.cfg`` naming it;
- runs ``kamailio -DD -E -f CFG`` in its own session with its output in
  ``kamailio.log`` there, and returns once the server answers an OPTIONS on
  UDP and accepts TCP and TLS connections (bounded to ~10 s; otherwise it
  stops what it started and raises with the log tail).

The SIP domain and digest realm are ``127.0.0.1``: clients need neither DNS
nor an outbound proxy (though they may use ``proxy_uri()`` as one),
From/To/Request-URIs are ``sip:alice@127.0.0.1`` with or without a port, and
the realm is what a client sees as the host part of its AoR. The config
decides "our domain" by host only, since the clients share 127.0.0.1 with the
server (see the template's comments).

Registrations live in memory: with the module-scoped server they outlive a
test, and an INVITE to a user with stale contacts forks to them as well and
waits for them to time out. Tests that get called should register a user of
their own (``add_user()``) or use a fresh server.

The TLS certificate is made with the ``cryptography`` package when it is
importable and with the ``openssl`` command otherwise (Debian package
``openssl``, pulled in by ``ca-certificates``; the project's virtualenv has
no ``cryptography``, so that is the usual path); either way it is
self-signed for
``IP:127.0.0.1``, ``IP:::1`` and ``DNS:localhost`` and ``ca_cert_path`` is
what clients should trust.

Nothing is skipped: if Kamailio or one of its module packages is missing,
``start()`` raises ``RuntimeError`` naming the Debian packages to install.

Environment: ``KAMAILIO_KEEP_FILES=1`` keeps the temporary directories
(config, database, log) for inspection after ``stop()``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import glob
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.child_process import dies_with_parent

TEMPLATE = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg.in"

#: Debian packages the test server needs, and the files that prove each is there.
APT_PACKAGES = (
    "kamailio",
    "kamailio-sqlite-modules",
    "kamailio-tls-modules",
    "kamailio-presence-modules",
)
_MODULES_BY_PACKAGE = {
    "kamailio": ("tm.so", "sl.so", "registrar.so", "usrloc.so", "auth_db.so", "nathelper.so", "sanity.so"),
    "kamailio-sqlite-modules": ("db_sqlite.so",),
    "kamailio-tls-modules": ("tls.so",),
    "kamailio-presence-modules": ("presence.so", "presence_xml.so", "presence_mwi.so", "presence_dialoginfo.so"),
}
_SCHEMA_DIRS = ("/usr/share/kamailio/db_sqlite", "/usr/local/share/kamailio/db_sqlite")
_SCHEMA_FILES = ("standard-create.sql", "auth_db-create.sql", "presence-create.sql")

DEFAULT_USERS: Mapping[str, str] = {
    "alice": "wonderland1",
    "bob": "builder22",
    "carol": "christmas333",
    "dave": "daydreamer4444",
}

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_running: weakref.WeakSet[Kamailio] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


def has_ipv6_loopback() -> bool:
    """True when the kernel has ``::1`` on an interface (read from /proc/net/if_inet6)."""
    try:
        text = Path("/proc/net/if_inet6").read_text()
    except OSError:
        return False
    return any(line.split()[:1] == ["0" * 31 + "1"] for line in text.splitlines())


def _module_dirs() -> list[Path]:
    dirs: list[Path] = []
    binary = shutil.which("kamailio")
    if binary:
        # "kamailio -I" prints the compiled-in module path.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([binary, "-I"], capture_output=True, text=True, timeout=10).stdout
            match = re.search(r"Default paths to modules:\s*(\S+)", out)
            if match:
                dirs += [Path(p) for p in match.group(1).split(":")]
    for pattern in ("/usr/lib/*/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/local/lib*/kamailio/modules"):
        dirs += [Path(p) for p in sorted(glob.glob(pattern))]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def _schema_dir() -> Path | None:
    for candidate in _SCHEMA_DIRS:
        if all((Path(candidate) / name).is_file() for name in _SCHEMA_FILES):
            return Path(candidate)
    return None


def missing_packages() -> list[str]:
    """The Debian packages from ``APT_PACKAGES`` that are not (fully) installed."""
    missing: list[str] = []
    dirs = _module_dirs()

    def have(module: str) -> bool:
        return any((d / module).is_file() for d in dirs)

    for package in APT_PACKAGES:
        ok = all(have(m) for m in _MODULES_BY_PACKAGE[package])
        if package == "kamailio":
            ok = ok and shutil.which("kamailio") is not None
        if package == "kamailio-sqlite-modules":
            ok = ok and _schema_dir() is not None
        if not ok:
            missing.append(package)
    return missing


def _bindable(family: int, kind: int, host: str, port: int) -> bool:
    with socket.socket(family, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _pick_ports(host: str, ipv6: bool, avoid: set[int]) -> tuple[int, int]:
    """A port free for UDP+TCP on host (and UDP on ::1 if ipv6), and a free TLS port."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port in avoid:
            continue
        if not _bindable(socket.AF_INET, socket.SOCK_DGRAM, host, port):
            continue
        if not _bindable(socket.AF_INET, socket.SOCK_STREAM, host, port):
            continue
        if ipv6 and not _bindable(socket.AF_INET6, socket.SOCK_DGRAM, "::1", port):
            continue
        break
    else:
        raise RuntimeError("no free UDP+TCP port pair on loopback")
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, 0))
            tls_port = probe.getsockname()[1]
        if tls_port != port and tls_port not in avoid:
            return port, tls_port
    raise RuntimeError("no free TLS port on loopback")


def make_self_signed_certificate(
    cert_path: Path, key_path: Path, common_name: str = "127.0.0.1", ips: tuple[str, ...] = ("127.0.0.1", "::1")
) -> str:
    """Write a self-signed certificate and key (PEM) for ``ips`` and localhost; return which tool made them."""
    try:
        from cryptography import x509  # type: ignore[import-not-found,unused-ignore]
        from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found,unused-ignore]
        from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found,unused-ignore]
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return "cryptography"

    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError(
            "cannot make a TLS certificate: neither the 'cryptography' package nor the 'openssl' command "
            "is installed (apt-get install -y openssl)"
        )
    conf = cert_path.with_suffix(".openssl.cnf")
    conf.write_text(
        "[req]\n"
        "distinguished_name = dn\n"
        "x509_extensions = ext\n"
        "prompt = no\n"
        "[dn]\n"
        f"CN = {common_name}\n"
        "[ext]\n"
        f"subjectAltName = {', '.join(f'IP:{ip}' for ip in ips)}, DNS:localhost\n"
        "basicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, digitalSignature, keyCertSign\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\n"
    )
    result = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-config",
            str(conf),
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            str(key_path),
            "-out",
            str(cert_path),
            "-days",
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl could not make the test certificate:\n{result.stderr}")
    return "openssl"


def _options_request(host: str, port: int, local_port: int, call_id: str) -> bytes:
    branch = "z9hG4bK" + secrets.token_hex(8)
    return (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{local_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def sip_options_ping(host: str, port: int, timeout: float = 0.5) -> str | None:
    """Send one OPTIONS over UDP; return the reply's status line, or None on timeout."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(timeout)
        call_id = secrets.token_hex(8)
        uri_host = f"[{host}]" if family == socket.AF_INET6 else host
        sock.sendto(_options_request(uri_host, port, sock.getsockname()[1], call_id), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = sock.recvfrom(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            text = data.decode("utf-8", "replace")
            if text.startswith("SIP/2.0 ") and call_id in text:
                return text.split("\r\n", 1)[0]
    return None


class Kamailio:
    """One Kamailio process on loopback with its own config, database and certificate."""

    host = "127.0.0.1"
    domain = "127.0.0.1"

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        ipv6: bool | None = None,
        digest_algorithm: str = "MD5",
        min_expires: int = 1,
        fr_timer_ms: int = 5000,
        fr_inv_timer_ms: int = 30000,
        debug: int = 2,
        binary: str = "kamailio",
    ) -> None:
        """Nothing runs until start().

        users: username -> password (default DEFAULT_USERS: alice, bob, carol, dave).
        ipv6: also listen on UDP [::1] (default: when the kernel has ::1).
        digest_algorithm: "MD5" or "SHA-256" (the auth module's algorithm; one for all).
        min_expires: registrar min_expires, low so tests can register briefly.
        fr_timer_ms / fr_inv_timer_ms: tm timers; lower them to test timeouts quickly.
        debug: Kamailio log level (2 = info: one line per request received).

        The process gets SIGTERM if the thread that started it dies (PR_SET_PDEATHSIG),
        so start it from the test's main thread.
        """
        if digest_algorithm not in ("MD5", "SHA-256"):
            raise ValueError("digest_algorithm must be 'MD5' or 'SHA-256'")
        self._users: dict[str, str] = dict(DEFAULT_USERS if users is None else users)
        self._ipv6_wanted = ipv6
        self.digest_algorithm = digest_algorithm
        self.min_expires = min_expires
        self.fr_timer_ms = fr_timer_ms
        self.fr_inv_timer_ms = fr_inv_timer_ms
        self.debug = debug
        self.binary = binary
        self.certificate_tool: str | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._udp_port: int | None = None
        self._tls_port: int | None = None
        self._ipv6 = False

    # ----- properties ---------------------------------------------------------

    def _need(self, value: int | None) -> int:
        if value is None:
            raise RuntimeError("Kamailio has not been started")
        return value

    @property
    def udp_port(self) -> int:
        return self._need(self._udp_port)

    @property
    def tcp_port(self) -> int:
        return self._need(self._udp_port)

    @property
    def tls_port(self) -> int:
        return self._need(self._tls_port)

    @property
    def ipv6(self) -> bool:
        """True when the server also listens on UDP [::1]:udp_port."""
        return self._ipv6

    @property
    def users(self) -> dict[str, str]:
        """Username -> password (a copy; use add_user() to change it)."""
        return dict(self._users)

    @property
    def workdir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("Kamailio has not been started")
        return self._dir

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "kamailio.cfg"

    @property
    def db_path(self) -> Path:
        return self.workdir / "kamailio.sqlite"

    @property
    def ca_cert_path(self) -> Path:
        return self.workdir / "tls-cert.pem"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def aor(self, user: str) -> str:
        """The address of record of a user, e.g. ``sip:alice@127.0.0.1``."""
        return f"sip:{user}@{self.domain}"

    def proxy_uri(self, transport: str = "udp") -> str:
        """Where a client sends its requests, e.g. ``sip:127.0.0.1:5060;transport=tcp``."""
        port = {"udp": self.udp_port, "tcp": self.tcp_port, "tls": self.tls_port}[transport.lower()]
        return f"sip:{self.host}:{port};transport={transport.lower()}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def add_user(self, username: str, password: str) -> None:
        """Add or change a subscriber; takes effect at once (auth_db reads the table per request)."""
        self._users[username] = password
        if self._dir is not None:
            with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
                db.execute(
                    "INSERT OR REPLACE INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                    (username, self.domain, password),
                )

    # ----- life cycle ---------------------------------------------------------

    def start(self) -> Kamailio:
        """Pick ports, write config/db/certificate, start and wait until it answers."""
        if self._proc is not None:
            raise RuntimeError("Kamailio is already started")
        missing = missing_packages()
        if missing:
            raise RuntimeError(
                "Kamailio test server cannot start: missing Debian packages "
                + ", ".join(missing)
                + " (install with: apt-get install -y "
                + " ".join(missing)
                + ")"
            )
        keep = os.environ.get("KAMAILIO_KEEP_FILES") == "1"
        self._dir = Path(tempfile.mkdtemp(prefix="kamailio-test-"))
        try:
            self._ipv6 = has_ipv6_loopback() if self._ipv6_wanted is None else self._ipv6_wanted
            self._write_database()
            self._write_tls()
            tried: set[int] = set()
            for attempt in range(3):
                self._udp_port, self._tls_port = self._choose_ports(tried)
                tried |= {self._udp_port, self._tls_port}
                self._write_config()
                try:
                    self._launch()
                    return self
                except _BindError:
                    # Another process took a port between the probe and the bind.
                    if attempt == 2:
                        raise
        except BaseException:
            self._kill()
            if not keep:
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._udp_port = self._tls_port = None
            raise
        return self

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after a bound) and delete the temporary directory."""
        self._kill()
        if self._dir is not None and os.environ.get("KAMAILIO_KEEP_FILES") != "1":
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def restart(self) -> None:
        """Stop and start again on the same ports with the same database and certificate.

        In-memory registrations are lost, so clients must re-register.
        """
        if self._dir is None or self._udp_port is None:
            raise RuntimeError("Kamailio has not been started")
        self._kill()
        with self.log_path.open("a") as log:
            log.write("\n===== restart =====\n")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._launch()
                return
            except _BindError:
                # The old sockets may take a moment to be released.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _choose_ports(self, tried: set[int]) -> tuple[int, int]:
        """The UDP/TCP port and the TLS port for the next start attempt."""
        return _pick_ports(self.host, self._ipv6, tried)

    def __enter__(self) -> Kamailio:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- internals ----------------------------------------------------------

    def _write_database(self) -> None:
        schema = _schema_dir()
        assert schema is not None  # checked by missing_packages()
        with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
            for name in _SCHEMA_FILES:
                db.executescript((schema / name).read_text())
            db.executemany(
                "INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                [(user, self.domain, password) for user, password in self._users.items()],
            )

    def _write_tls(self) -> None:
        key = self.workdir / "tls-key.pem"
        self.certificate_tool = make_self_signed_certificate(self.ca_cert_path, key)
        key.chmod(0o600)
        (self.workdir / "tls.cfg").write_text(
            "[server:default]\n"
            "method = TLSv1.2+\n"
            "verify_certificate = no\n"
            "require_certificate = no\n"
            f"private_key = {key}\n"
            f"certificate = {self.ca_cert_path}\n"
            "\n"
            "[client:default]\n"
            "method = TLSv1.2+\n"
            "verify_certificate = no\n"
            "require_certificate = no\n"
        )

    def _write_config(self) -> None:
        values = {
            "DEBUG": str(self.debug),
            "HOST": self.host,
            "DOMAIN": self.domain,
            "UDP_PORT": str(self.udp_port),
            "TCP_PORT": str(self.tcp_port),
            "TLS_PORT": str(self.tls_port),
            "IPV6_LISTEN": f"listen=udp:[::1]:{self.udp_port}" if self._ipv6 else "# no IPv6 loopback",
            "TLS_CFG": str(self.workdir / "tls.cfg"),
            "DB_URL": f"sqlite://{self.db_path}",
            "DB_PATH": str(self.db_path),
            "AUTH_ALGORITHM": self.digest_algorithm,
            "MIN_EXPIRES": str(self.min_expires),
            "FR_TIMER": str(self.fr_timer_ms),
            "FR_INV_TIMER": str(self.fr_inv_timer_ms),
        }

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                raise RuntimeError(f"{TEMPLATE.name}: unknown placeholder {match.group(0)}")
            return values[match.group(1)]

        text = re.sub(r"@([A-Z0-9_]+)@", substitute, TEMPLATE.read_text())
        self.config_path.write_text(text)

    def _launch(self) -> None:
        run_dir = self.workdir / "run"
        run_dir.mkdir(exist_ok=True)
        cmd = [self.binary, "-DD", "-E", "-f", str(self.config_path), "-Y", str(run_dir), "-m", "64", "-M", "8"]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                dies_with_parent(cmd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        _running.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self._kill()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        answered = False
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_tail()
                if re.search(r"bind\(|Address already in use", tail):
                    raise _BindError(f"Kamailio could not bind its ports:\n{tail}")
                raise RuntimeError(f"Kamailio exited with status {self._proc.returncode} while starting:\n{tail}")
            if not answered:
                answered = sip_options_ping(self.host, self.udp_port, timeout=0.2) is not None
            if answered and _accepts(self.host, self.tcp_port) and _accepts_tls(self.host, self.tls_port):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"Kamailio did not answer OPTIONS on udp:{self.host}:{self.udp_port} within {START_TIMEOUT:.0f} s:\n"
            + self.log_tail()
        )

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT)
        # Worker processes are in the session/process group this server's PID
        # leads; make sure none outlives the main process.
        for _ in range(int(STOP_TIMEOUT / 0.05)):
            try:
                os.killpg(proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


class _BindError(RuntimeError):
    pass


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _accepts_tls(host: str, port: int) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=0.5) as raw, context.wrap_socket(raw) as tls:
            with contextlib.suppress(OSError, ssl.SSLError):
                tls.unwrap()
            return True
    except (OSError, ssl.SSLError):
        return False
