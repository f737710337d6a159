"""Throw-away certificates for the TLS tests, made with the openssl command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _openssl(*args: str | Path) -> str:
    if shutil.which("openssl") is None:
        pytest.fail("the TLS tests make certificates with the openssl command: apt-get install -y openssl")
    done = subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, text=True, timeout=30)
    return done.stdout


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    return key, cert


def _make_server(directory: Path, name: str, ca: tuple[Path, Path], days: str = "2") -> tuple[Path, Path]:
    """A sip.test / 127.0.0.1 server certificate signed by ``ca``; ``days`` "-1" makes one that has expired."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        "/CN=sip.test",
    )
    extensions = directory / f"{name}.ext"
    extensions.write_text("subjectAltName=DNS:sip.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    ca_key, ca_cert = ca
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca_cert,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        days,
        "-extfile",
        extensions,
    )
    return key, cert


def sha256_fingerprint(cert: Path) -> str:
    """``AB:CD:...`` as openssl prints it."""
    return _openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", cert).strip().split("=", 1)[1]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca = _make_ca(directory, "Test SIP CA")
    _, other_ca = _make_ca(directory, "Other CA")
    key, cert = _make_server(directory, "server", ca)
    expired_key, expired = _make_server(directory, "expired", ca, days="-1")
    self_key, self_signed = _make_ca(directory, "sip.test self-signed")
    return {
        "ca": ca[1],
        "other_ca": other_ca,
        "cert": cert,
        "key": key,
        "expired": expired,
        "expired_key": expired_key,
        "self_signed": self_signed,
        "self_signed_key": self_key,
    }
