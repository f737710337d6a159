"""The Kamailio test server works: sipsak and hand-built SIP over loopback.

The requests here are built by hand and replies parsed loosely with regular
expressions on purpose, so that these tests check the server fixture and not
the project's own SIP stack.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests import kamailio_server
from tests.kamailio_server import Kamailio, has_ipv6_loopback

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

# ----- helpers ----------------------------------------------------------------


def sipsak(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("sipsak")
    if binary is None:
        pytest.fail("sipsak is not installed (apt-get install -y sipsak)", pytrace=False)
    # -H/-k: put and bind only 127.0.0.1, never the machine's other addresses.
    return subprocess.run(
        [binary, "-H", "127.0.0.1", "-k", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def status_of(message: str) -> int:
    match = re.match(r"SIP/2\.0 (\d{3})", message)
    assert match, f"not a SIP response:\n{message}"
    return int(match.group(1))


def header(message: str, name: str) -> str | None:
    match = re.search(rf"^{name}[ \t]*:[ \t]*(.*?)\r?$", message, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else None


def digest_params(challenge: str) -> dict[str, str]:
    return {k.lower(): v1 or v2 for k, v1, v2 in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', challenge)}


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    params = digest_params(challenge)
    algorithm = params.get("algorithm", "MD5")

    def h(text: str) -> str:
        return hashlib.new("sha256" if algorithm.upper() == "SHA-256" else "md5", text.encode()).hexdigest()

    ha1 = h(f"{user}:{params['realm']}:{password}")
    ha2 = h(f"{method}:{uri}")
    fields = f'username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}"'
    if "qop" in params:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = h(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        fields += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = h(f"{ha1}:{params['nonce']}:{ha2}")
    if "opaque" in params:
        fields += f', opaque="{params["opaque"]}"'
    return f'Digest {fields}, response="{response}", algorithm={algorithm}'


class RawUA:
    """A throw-away UDP user agent on 127.0.0.1: just enough SIP for these tests."""

    def __init__(self, server: Kamailio, user: str) -> None:
        self.server = server
        self.user = user
        self.password = server.users.get(user, "")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3.0)
        self.port = self.sock.getsockname()[1]
        self.call_id = secrets.token_hex(8) + "@127.0.0.1"
        self.tag = secrets.token_hex(4)
        self.cseq = 0
        self.pending: list[tuple[str, tuple[str, int]]] = []  # requests seen while waiting for a response
        self.last_sent = ""

    def close(self) -> None:
        self.sock.close()

    def build(self, method: str, ruri: str, to: str, extra: str = "", body: str = "") -> str:
        self.cseq += 1
        return (
            f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{self.user}@{self.server.domain}>;tag={self.tag}\r\n"
            f"To: <{to}>\r\n"
            f"Call-ID: {self.call_id}\r\n"
            f"CSeq: {self.cseq} {method}\r\n"
            f"{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )

    def drain(self) -> None:
        """Forget whatever has arrived so far (retransmissions of old transactions)."""
        self.pending.clear()
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(3.0)

    def send(self, message: str) -> None:
        self.last_sent = message
        self.sock.sendto(message.encode(), (self.server.host, self.server.udp_port))

    def response(self, method: str, code: int) -> str:
        """Wait for the response with this status to our CSeq (others are skipped)."""
        while True:
            data, addr = self.sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            if not text.startswith("SIP/2.0"):
                self.pending.append((text, addr))
                continue
            if header(text, "CSeq") == f"{self.cseq} {method}" and status_of(text) == code:
                return text

    def final_response(self, method: str) -> str:
        """The next final response to our CSeq (provisional ones are skipped)."""
        while True:
            data, addr = self.sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            if not text.startswith("SIP/2.0"):
                self.pending.append((text, addr))
                continue
            if header(text, "CSeq") != f"{self.cseq} {method}" or status_of(text) < 200:
                continue
            return text

    def send_authenticated(self, method: str, ruri: str, to: str, extra: str = "", body: str = "") -> str:
        """Send, expect a 401/407, send again with credentials; return the challenge.

        The caller then waits for the final answer with final_response().
        """
        self.send(self.build(method, ruri, to, extra, body))
        reply = self.final_response(method)
        assert status_of(reply) in (401, 407), reply
        name = "WWW-Authenticate" if status_of(reply) == 401 else "Proxy-Authenticate"
        credentials = "Authorization" if status_of(reply) == 401 else "Proxy-Authorization"
        challenge = header(reply, name)
        assert challenge, reply
        auth = digest_authorization(challenge, method, ruri, self.user, self.password)
        self.send(self.build(method, ruri, to, f"{credentials}: {auth}\r\n{extra}", body))
        return reply

    def request(
        self, method: str, ruri: str, to: str, extra: str = "", body: str = "", *, authenticate: bool = True
    ) -> str:
        """Send a request (answering one digest challenge) and return the final response."""
        if authenticate:
            self.send_authenticated(method, ruri, to, extra, body)
        else:
            self.send(self.build(method, ruri, to, extra, body))
        return self.final_response(method)

    def register(self, expires: int = 60) -> str:
        server = self.server
        return self.request(
            "REGISTER",
            f"sip:{server.domain}:{server.udp_port}",
            server.aor(self.user),
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nExpires: {expires}\r\n",
        )

    def next_request(self, method: str) -> tuple[str, tuple[str, int]]:
        """Wait for a request of `method`; return it and where it came from."""
        for index, (text, addr) in enumerate(self.pending):
            if text.startswith(f"{method} "):
                del self.pending[index]
                return text, addr
        while True:
            data, addr = self.sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            if text.startswith(f"{method} "):
                return text, addr
            if not text.startswith("SIP/2.0"):
                self.pending.append((text, addr))

    def reply(self, request: str, addr: tuple[str, int], code: int, reason: str, extra: str = "") -> None:
        vias = re.findall(r"^(?:Via|v|Record-Route)[ \t]*:.*?\r?$", request, re.IGNORECASE | re.MULTILINE)
        to = header(request, "To") or ""
        if ";tag=" not in to:
            to += f";tag=r{self.tag}"
        reply = (
            f"SIP/2.0 {code} {reason}\r\n"
            + "".join(v.rstrip("\r") + "\r\n" for v in vias)
            + f"From: {header(request, 'From')}\r\nTo: {to}\r\n"
            + f"Call-ID: {header(request, 'Call-ID')}\r\nCSeq: {header(request, 'CSeq')}\r\n"
            + extra
            + "Content-Length: 0\r\n\r\n"
        )
        self.sock.sendto(reply.encode(), addr)

    def answer_next(self, method: str, code: int = 200, reason: str = "OK", extra: str = "") -> str:
        """Wait for a request of `method` and reply to it; return the request."""
        text, addr = self.next_request(method)
        self.reply(text, addr, code, reason, extra)
        return text


def options_over_stream(server: Kamailio, sock: socket.socket, transport: str) -> str:
    port = server.tls_port if transport == "TLS" else server.tcp_port
    local_port = sock.getsockname()[1]
    sock.sendall(
        (
            f"OPTIONS sip:{server.host}:{port};transport={transport.lower()} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{server.domain}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{server.host}:{port}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65535)
        assert chunk, "connection closed without a reply"
        data += chunk
    return data.decode("utf-8", "replace")


@pytest.fixture
def ua_factory(kamailio: Kamailio):  # type: ignore[no-untyped-def]
    """make(user=None, server=kamailio): a RawUA; without a user name, for a new user of its own.

    The module-scoped server keeps earlier tests' registrations, and a call
    to a user with stale contacts forks to them too and waits for them to
    time out, so a test whose user gets called registers a new user.
    """
    made: list[RawUA] = []

    def make(user: str | None = None, server: Kamailio = kamailio) -> RawUA:
        if user is None:
            user = "u" + secrets.token_hex(4)
            server.add_user(user, secrets.token_hex(6))
        ua = RawUA(server, user)
        made.append(ua)
        return ua

    yield make
    for ua in made:
        ua.close()


# ----- the tests ----------------------------------------------------------------


def test_server_properties(kamailio: Kamailio) -> None:
    assert kamailio.host == "127.0.0.1"
    assert kamailio.domain == "127.0.0.1"
    assert kamailio.udp_port == kamailio.tcp_port != kamailio.tls_port
    assert set(kamailio.users) == {"alice", "bob", "carol", "dave"}
    assert len(set(kamailio.users.values())) == 4
    assert kamailio.log_path.is_file()
    assert kamailio.ca_cert_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert kamailio.running
    assert kamailio.aor("bob") == "sip:bob@127.0.0.1"
    assert kamailio.proxy_uri("tls") == f"sip:127.0.0.1:{kamailio.tls_port};transport=tls"


def test_sipsak_options_answered(kamailio: Kamailio) -> None:
    result = sipsak("-vv", "-s", f"sip:{kamailio.host}:{kamailio.udp_port}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SIP/2.0 200" in result.stdout


def test_sipsak_register_right_password(kamailio: Kamailio) -> None:
    result = sipsak(
        "-vv",
        "-U",
        "-C",
        "sip:alice@127.0.0.1:45678",
        "-x",
        "60",
        "-a",
        kamailio.users["alice"],
        "-s",
        f"sip:alice@{kamailio.domain}:{kamailio.udp_port}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All usrloc tests completed successful" in result.stdout


def test_sipsak_register_wrong_password(kamailio: Kamailio) -> None:
    result = sipsak(
        "-vv",
        "-U",
        "-C",
        "sip:bob@127.0.0.1:45679",
        "-x",
        "60",
        "-a",
        "not-" + kamailio.users["bob"],
        "-s",
        f"sip:bob@{kamailio.domain}:{kamailio.udp_port}",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"SIP/2\.0 40[13]", output), output
    assert "authorization failed" in output, output


def test_register_without_credentials_is_challenged(kamailio: Kamailio) -> None:
    port = kamailio.udp_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3.0)
        local = sock.getsockname()[1]
        request = (
            f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:carol@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
            "To: <sip:carol@127.0.0.1>\r\n"
            f"Call-ID: {secrets.token_hex(8)}@127.0.0.1\r\n"
            "CSeq: 1 REGISTER\r\n"
            f"Contact: <sip:carol@127.0.0.1:{local}>\r\n"
            "Expires: 60\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), ("127.0.0.1", port))
        reply = sock.recv(65535).decode("utf-8", "replace")
    assert reply.startswith("SIP/2.0 401 "), reply
    challenge = header(reply, "WWW-Authenticate")
    assert challenge and challenge.startswith("Digest "), reply
    params = digest_params(challenge)
    assert params["realm"] == kamailio.domain
    assert params["nonce"]


def test_message_is_routed_to_a_registered_user(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    carol, dave = ua_factory(), ua_factory("dave")
    assert status_of(carol.register()) == 200

    # dave -> carol: challenged with 407 first, then relayed to carol's contact.
    target = kamailio.aor(carol.user)
    challenge = dave.send_authenticated("MESSAGE", target, target, "Content-Type: text/plain\r\n", "hello carol")
    assert status_of(challenge) == 407, challenge
    assert digest_params(header(challenge, "Proxy-Authenticate") or "")["realm"] == kamailio.domain

    received = carol.answer_next("MESSAGE")
    assert received.endswith("hello carol"), received
    assert "Proxy-Authorization" not in received  # consumed by the proxy
    final = dave.final_response("MESSAGE")
    assert status_of(final) == 200, final


PIDF_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">\r\n'
    '<tuple id="t1"><status><basic>open</basic></status></tuple>\r\n'
    "</presence>\r\n"
)


def test_presence_publish_subscribe_notify(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    alice, bob = ua_factory(), ua_factory("bob")
    presentity = kamailio.aor(alice.user)

    # Any user may watch any other: bob's SUBSCRIBE is accepted and NOTIFYed at once.
    subscribe_headers = (
        f"Contact: <sip:bob@127.0.0.1:{bob.port}>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: 60\r\n"
    )
    bob.send_authenticated("SUBSCRIBE", presentity, presentity, subscribe_headers)
    reply = bob.final_response("SUBSCRIBE")
    assert status_of(reply) in (200, 202), reply
    first_notify = bob.answer_next("NOTIFY")
    assert re.search(r"^Subscription-State:\s*active", first_notify, re.IGNORECASE | re.MULTILINE), first_notify

    # alice publishes "open"; bob hears about it.
    reply = alice.request(
        "PUBLISH",
        presentity,
        presentity,
        "Event: presence\r\nExpires: 60\r\nContent-Type: application/pidf+xml\r\n",
        PIDF_OPEN.format(entity=presentity),
    )
    assert status_of(reply) == 200, reply
    assert header(reply, "SIP-ETag"), reply
    notify = bob.answer_next("NOTIFY")
    assert "<basic>open</basic>" in notify, notify

    # The other event packages are served too.
    for event in ("dialog", "message-summary"):
        bob.call_id, bob.tag = secrets.token_hex(8), secrets.token_hex(4)
        bob.send_authenticated(
            "SUBSCRIBE",
            presentity,
            presentity,
            f"Contact: <sip:bob@127.0.0.1:{bob.port}>\r\nEvent: {event}\r\nExpires: 60\r\n",
        )
        reply = bob.final_response("SUBSCRIBE")
        assert status_of(reply) in (200, 202), reply
        bob.answer_next("NOTIFY")


def test_call_is_record_routed_and_bye_follows_the_route(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    alice, bob = ua_factory(), ua_factory("bob")
    assert status_of(alice.register()) == 200
    target = kamailio.aor(alice.user)
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    bob.send_authenticated(
        "INVITE", target, target, f"Contact: <sip:bob@127.0.0.1:{bob.port}>\r\nContent-Type: application/sdp\r\n", sdp
    )

    invite = alice.answer_next("INVITE", 200, "OK", f"Contact: <sip:{alice.user}@127.0.0.1:{alice.port}>\r\n")
    assert header(invite, "Record-Route"), invite
    ok = bob.final_response("INVITE")
    assert status_of(ok) == 200, ok
    routes = [r.strip() for r in re.findall(r"^Record-Route:(.*?)\r?$", ok, re.IGNORECASE | re.MULTILINE)]
    assert routes and "lr" in routes[0], ok
    contact = re.search(r"<([^>]+)>", header(ok, "Contact") or "")
    assert contact, ok
    to = header(ok, "To")
    invite_cseq = bob.cseq

    def in_dialog(method: str, cseq: int) -> str:
        return (
            f"{method} {contact.group(1)} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{bob.port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            + "".join(f"Route: {r}\r\n" for r in reversed(routes))
            + "Max-Forwards: 70\r\n"
            f"From: <sip:bob@{kamailio.domain}>;tag={bob.tag}\r\nTo: {to}\r\n"
            f"Call-ID: {bob.call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        )

    bob.send(in_dialog("ACK", invite_cseq))
    data, _ = alice.sock.recvfrom(65535)
    assert data.startswith(b"ACK "), data

    bob.cseq = invite_cseq + 1
    bob.send(in_dialog("BYE", bob.cseq))
    bye = alice.answer_next("BYE")
    assert bye.startswith(f"BYE sip:{alice.user}@127.0.0.1:{alice.port}"), bye
    assert status_of(bob.final_response("BYE")) == 200


def test_cancel_reaches_the_callee(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    alice, bob = ua_factory(), ua_factory("bob")
    assert status_of(alice.register()) == 200
    target = kamailio.aor(alice.user)
    bob.send_authenticated("INVITE", target, target, f"Contact: <sip:bob@127.0.0.1:{bob.port}>\r\n")
    invite_text = bob.last_sent
    invite, invite_from = alice.next_request("INVITE")
    alice.reply(invite, invite_from, 180, "Ringing")
    # RFC 3261 9.1: a UAC cancels only once a provisional response has arrived.
    bob.response("INVITE", 180)

    # CANCEL: same Request-URI, top Via, From, To, Call-ID and CSeq number as the INVITE.
    keep = ("Via", "From", "To", "Call-ID")
    cancel = "CANCEL " + invite_text.split(" ", 2)[1] + " SIP/2.0\r\n"
    cancel += "".join(f"{name}: {header(invite_text, name)}\r\n" for name in keep)
    cancel += f"CSeq: {bob.cseq} CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    bob.send(cancel)

    alice.answer_next("CANCEL", 200, "OK")
    alice.reply(invite, invite_from, 487, "Request Terminated")
    assert status_of(bob.final_response("INVITE")) == 487


def test_failure_route_turns_timeouts_into_408_and_480(ua_factory) -> None:  # type: ignore[no-untyped-def]
    with Kamailio(fr_timer_ms=1000, fr_inv_timer_ms=1000) as server:
        alice, bob = ua_factory("alice", server), ua_factory("bob", server)
        assert status_of(alice.register()) == 200
        target = server.aor("alice")
        contact = f"Contact: <sip:bob@127.0.0.1:{bob.port}>\r\n"

        # alice says nothing at all: 408.
        bob.send_authenticated("INVITE", target, target, contact)
        assert alice.sock.recv(65535).startswith(b"INVITE ")
        assert status_of(bob.final_response("INVITE")) == 408

        # alice rings but never answers: 480.
        alice.drain()
        bob.call_id, bob.tag = secrets.token_hex(8), secrets.token_hex(4)
        bob.send_authenticated("INVITE", target, target, contact)
        alice.answer_next("INVITE", 180, "Ringing")
        assert status_of(bob.final_response("INVITE")) == 480


def test_unregistered_user_is_not_found(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    alice = ua_factory("alice")
    reply = alice.request(
        "MESSAGE", kamailio.aor("nobody"), kamailio.aor("nobody"), "Content-Type: text/plain\r\n", "anyone?"
    )
    assert status_of(reply) == 404, reply


def test_tls_with_the_ca_certificate_and_tcp(kamailio: Kamailio) -> None:
    context = ssl.create_default_context(cafile=str(kamailio.ca_cert_path))
    with socket.create_connection((kamailio.host, kamailio.tls_port), timeout=3) as raw:
        with context.wrap_socket(raw, server_hostname=kamailio.host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            reply = options_over_stream(kamailio, tls, "TLS")
    assert status_of(reply) == 200, reply
    with socket.create_connection((kamailio.host, kamailio.tcp_port), timeout=3) as tcp:
        reply = options_over_stream(kamailio, tcp, "TCP")
    assert status_of(reply) == 200, reply


def read_stream_message(sock: socket.socket, buffer: bytearray) -> str:
    """One SIP message from a stream socket (header block plus Content-Length body)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = buffer[:end].decode("utf-8", "replace")
            length = re.search(r"^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", head, re.IGNORECASE | re.MULTILINE)
            total = end + 4 + (int(length.group(1)) if length else 0)
            if len(buffer) >= total:
                message = bytes(buffer[:total]).decode("utf-8", "replace")
                del buffer[:total]
                return message
        chunk = sock.recv(65535)
        assert chunk, "connection closed"
        buffer += chunk


def test_tcp_client_is_reached_over_its_own_connection(kamailio: Kamailio, ua_factory) -> None:  # type: ignore[no-untyped-def]
    """A TCP client that doesn't listen still gets requests: over the connection it registered on."""
    dave, carol = ua_factory("dave"), ua_factory()  # carol's RawUA only lends her a fresh account
    buffer = bytearray()
    with socket.create_connection((kamailio.host, kamailio.tcp_port), timeout=3) as tcp:
        local = tcp.getsockname()[1]
        ruri, aor = f"sip:{kamailio.domain}:{kamailio.tcp_port};transport=tcp", kamailio.aor(carol.user)
        call_id, tag = secrets.token_hex(8), secrets.token_hex(4)

        def register(cseq: int, auth: str = "") -> str:
            tcp.sendall(
                (
                    f"REGISTER {ruri} SIP/2.0\r\n"
                    f"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                    f"Max-Forwards: 70\r\nFrom: <{aor}>;tag={tag}\r\nTo: <{aor}>\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{auth}"
                    f"Contact: <sip:{carol.user}@127.0.0.1:5999;transport=tcp>\r\n"
                    "Expires: 60\r\nContent-Length: 0\r\n\r\n"
                ).encode()
            )
            return read_stream_message(tcp, buffer)

        challenge = register(1)
        assert status_of(challenge) == 401, challenge
        auth = digest_authorization(
            header(challenge, "WWW-Authenticate") or "", "REGISTER", ruri, carol.user, carol.password
        )
        reply = register(2, f"Authorization: {auth}\r\n")
        assert status_of(reply) == 200, reply
        assert local != 5999

        dave.send_authenticated("MESSAGE", aor, aor, "Content-Type: text/plain\r\n", "over tcp")
        message = read_stream_message(tcp, buffer)
        assert message.startswith(f"MESSAGE sip:{carol.user}@127.0.0.1:5999;transport=tcp"), message
        vias = re.findall(r"^Via:.*?\r?$", message, re.IGNORECASE | re.MULTILINE)
        tcp.sendall(
            (
                "SIP/2.0 200 OK\r\n"
                + "".join(v.rstrip("\r") + "\r\n" for v in vias)
                + f"From: {header(message, 'From')}\r\nTo: {header(message, 'To')};tag=x1\r\n"
                + f"Call-ID: {header(message, 'Call-ID')}\r\nCSeq: {header(message, 'CSeq')}\r\n"
                + "Content-Length: 0\r\n\r\n"
            ).encode()
        )
        assert status_of(dave.final_response("MESSAGE")) == 200


def test_ipv6_loopback_listener(kamailio: Kamailio) -> None:
    assert kamailio.ipv6 == has_ipv6_loopback()
    if kamailio.ipv6:
        assert kamailio_server.sip_options_ping("::1", kamailio.udp_port, timeout=2.0) == "SIP/2.0 200 Keepalive"
    else:
        assert "[::1]" not in kamailio.config_path.read_text()


def test_restart_answers_on_the_same_ports_and_forgets_registrations(
    fresh_kamailio: Kamailio,
    ua_factory,  # type: ignore[no-untyped-def]
) -> None:
    server = fresh_kamailio
    ports, pid, cert = (server.udp_port, server.tcp_port, server.tls_port), server.pid, server.ca_cert_path.read_text()
    alice, bob = ua_factory("alice", server), ua_factory("bob", server)
    assert status_of(alice.register()) == 200

    server.restart()

    assert (server.udp_port, server.tcp_port, server.tls_port) == ports
    assert server.pid != pid and server.running
    assert server.ca_cert_path.read_text() == cert
    result = sipsak("-vv", "-s", f"sip:{server.host}:{server.udp_port}")
    assert result.returncode == 0, result.stdout + result.stderr
    # Registrations were in memory only: alice is gone until she registers again.
    reply = bob.request("MESSAGE", server.aor("alice"), server.aor("alice"), "Content-Type: text/plain\r\n", "?")
    assert status_of(reply) == 404, reply
    assert status_of(alice.register()) == 200


def test_sha256_digest() -> None:
    with Kamailio(digest_algorithm="SHA-256") as server:
        ua = RawUA(server, "bob")
        try:
            first = ua.request(
                "REGISTER",
                f"sip:{server.domain}:{server.udp_port}",
                server.aor("bob"),
                f"Contact: <sip:bob@127.0.0.1:{ua.port}>\r\n",
                authenticate=False,
            )
            assert status_of(first) == 401, first
            assert digest_params(header(first, "WWW-Authenticate") or "")["algorithm"] == "SHA-256"
            assert status_of(ua.register()) == 200
        finally:
            ua.close()


def test_stop_ends_the_process_and_removes_files() -> None:
    server = Kamailio()
    server.start()
    pid, workdir = server.pid, server.workdir
    assert pid is not None
    server.stop()
    assert not server.running
    if os.environ.get("KAMAILIO_KEEP_FILES") != "1":
        assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_packages_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kamailio_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(kamailio_server, "_module_dirs", lambda: [])
    monkeypatch.setattr(kamailio_server, "_schema_dir", lambda: None)
    with pytest.raises(RuntimeError) as info:
        Kamailio().start()
    message = str(info.value)
    for package in ("kamailio", "kamailio-sqlite-modules", "kamailio-tls-modules", "kamailio-presence-modules"):
        assert package in message
    assert "apt-get install" in message


def test_template_has_no_unknown_placeholders(tmp_path: Path) -> None:
    text = kamailio_server.TEMPLATE.read_text()
    names = set(re.findall(r"@([A-Z0-9_]+)@", text))
    assert names <= {
        "DEBUG",
        "HOST",
        "DOMAIN",
        "UDP_PORT",
        "TCP_PORT",
        "TLS_PORT",
        "IPV6_LISTEN",
        "TLS_CFG",
        "DB_URL",
        "DB_PATH",
        "AUTH_ALGORITHM",
        "MIN_EXPIRES",
        "FR_TIMER",
        "FR_INV_TIMER",
    }
