"""A TURN client (RFC 8656): one allocation on a relay, reached over UDP or a TCP/TLS stream, sans-I/O.

A :class:`TurnClient` is fed the current time and the datagrams that came
from the TURN server, and answers with effects: :class:`~softphone.stun.transaction.Send`
a datagram to the server, :class:`Allocated` once the relay is ours,
:class:`Received` for what a peer sent through the relay and :class:`Failed`
with a :class:`TurnError` that says what went wrong in words. ``next_deadline``
says when :meth:`TurnClient.on_timer` has work: retransmissions, the Refresh
before the allocation's lifetime runs out, and the CreatePermission (and
ChannelBind) refreshes for the peers we send to.

Authentication is the long-term mechanism (RFC 8489 9.2): the first Allocate
goes without credentials, the 401 brings REALM and NONCE, and every later
request is signed; a 438 Stale Nonce is retried with the new nonce. A 401 to
a signed request means the user name or password is wrong.

With ``stream=True`` (TCP or TLS to the server, RFC 8656 3.1; the relay to
peers stays UDP) each request is sent once (RFC 8489 6.2.2) and ChannelData
is padded to four bytes (12.5); :mod:`softphone.stun.stream` frames what
arrives, and :meth:`TurnClient.receive` takes one frame at a time.

Like the rest of ``stun/``, nothing here touches sockets, threads or the clock.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from softphone.stun.message import Address, Attr, Class, Method, StunMessage, StunParseError, long_term_key
from softphone.stun.transaction import BindingTransaction, Retransmission, Send, Succeeded, TimedOut
from softphone.stun.transaction import Effect as TransactionEffect
from softphone.stun.transaction import Failed as TransactionFailed

__all__ = [
    "Allocated",
    "Effect",
    "Failed",
    "Received",
    "TurnClient",
    "TurnError",
    "TurnState",
    "channel_data",
    "parse_channel_data",
]

UDP = 17
DEFAULT_LIFETIME = 600
PERMISSION_REFRESH = 240.0  # RFC 8656 9: a permission lasts 300 s
CHANNEL_REFRESH = 540.0  # RFC 8656 12: a channel binding lasts 600 s
MAX_PERMISSIONS = 8
MAX_STALE_RETRIES = 3
FIRST_CHANNEL, LAST_CHANNEL = 0x4000, 0x4FFF
# For the allocation a call waits on: 1.75 s per transaction, like the STUN step.
SETUP = Retransmission(rto=0.25, rc=3, rm=4)
# RFC 8489 6.2.2: over TCP or TLS a request is sent once; the call waits 3.5 s for an answer, upkeep Ti = 39.5 s.
STREAM_SETUP = Retransmission(rto=3.5, rc=1, rm=1)
STREAM_UPKEEP = Retransmission(rto=39.5, rc=1, rm=1)


class TurnError(Exception):
    """A TURN server that refuses, does not answer, or answers what cannot be used; the message says which."""


@dataclass(frozen=True, slots=True)
class Allocated:
    relayed: Address
    mapped: Address | None
    lifetime: int


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    peer: Address


@dataclass(frozen=True, slots=True)
class Failed:
    """``fatal``: the allocation is gone (or never came); else one permission or channel could not be had."""

    error: TurnError
    fatal: bool = True


Effect = Send | Allocated | Received | Failed


class TurnState(enum.Enum):
    IDLE = "Idle"
    ALLOCATING = "Allocating"
    ALLOCATED = "Allocated"
    FAILED = "Failed"
    CLOSED = "Closed"


def channel_data(channel: int, payload: bytes, *, stream: bool = False) -> bytes:
    """RFC 8656 12.4: channel number, length, data; padded to a multiple of 4 on a stream (12.5), not over UDP."""
    pad = b"\0" * (-len(payload) % 4) if stream else b""
    return channel.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload + pad


def parse_channel_data(data: bytes) -> tuple[int, bytes]:
    """The channel number and data of a ChannelData message; :class:`StunParseError` if it is not one."""
    if len(data) < 4 or not FIRST_CHANNEL <= int.from_bytes(data[:2], "big") <= LAST_CHANNEL:
        raise StunParseError("not a ChannelData message")
    length = int.from_bytes(data[2:4], "big")
    if length > len(data) - 4:
        raise StunParseError(f"ChannelData of length {length} in a datagram of {len(data)} bytes")
    return int.from_bytes(data[:2], "big"), bytes(data[4 : 4 + length])


@dataclass
class _Request:
    method: Method
    purpose: str
    attributes: list[tuple[int, object]]
    peer: Address | None = None
    stale: int = 0
    tx: BindingTransaction | None = None


@dataclass
class TurnClient:
    """One allocation; ``server`` only names the server in messages; ``stream``: to the server over TCP or TLS
    (ChannelData padded, requests not retransmitted). See the module documentation."""

    username: str
    password: str = field(repr=False)
    server: str = "TURN server"
    lifetime: int = DEFAULT_LIFETIME
    setup: Retransmission = SETUP
    upkeep: Retransmission = field(default_factory=Retransmission)
    channels: bool = True
    software: str = "softphone"
    stream: bool = False
    state: TurnState = TurnState.IDLE
    relayed: Address | None = None
    mapped: Address | None = None
    ignored: int = 0
    _realm: str | None = None
    _nonce: str | None = None
    _key: bytes | None = field(default=None, repr=False)
    _pending: dict[bytes, _Request] = field(default_factory=dict)
    _refresh_at: float = math.inf
    _permissions: dict[str, float] = field(default_factory=dict)
    _channels: dict[Address, int] = field(default_factory=dict)
    _channel_peers: dict[int, Address] = field(default_factory=dict)
    _channel_due: dict[Address, float] = field(default_factory=dict)
    _bound: set[Address] = field(default_factory=set)
    _next_channel: int = FIRST_CHANNEL

    # --- driving ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        if self.state is not TurnState.IDLE:
            raise RuntimeError("allocation already started")
        self.state = TurnState.ALLOCATING
        return self._allocate(now, stale=0)

    @property
    def next_deadline(self) -> float | None:
        times = [r.tx.next_deadline for r in self._pending.values() if r.tx is not None and r.tx.next_deadline]
        if self.state is TurnState.ALLOCATED:
            times += [self._refresh_at, *self._permissions.values(), *self._channel_due.values()]
        finite = [t for t in times if t is not None and t < math.inf]
        return min(finite) if finite else None

    def on_timer(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for request in list(self._pending.values()):
            assert request.tx is not None
            effects += self._settle(request, request.tx.on_timer(now), now)
        if self.state is not TurnState.ALLOCATED:
            return effects
        if now >= self._refresh_at:
            self._refresh_at = math.inf
            effects += self._send(Method.REFRESH, "refresh", [(Attr.LIFETIME, self.lifetime)], now)
        for ip, due in list(self._permissions.items()):
            if now >= due:
                effects += self._permit(ip, now)
        for peer, due in list(self._channel_due.items()):
            if now >= due:
                effects += self._bind(peer, self._channels[peer], now)
        return effects

    def receive(self, data: bytes, now: float) -> list[Effect]:
        """A datagram from the server: an answer to one of our requests, or a peer's data."""
        if self.state in (TurnState.IDLE, TurnState.FAILED):
            return []
        if len(data) >= 4 and data[0] & 0xC0 == 0x40:
            try:
                number, payload = parse_channel_data(data)
            except StunParseError:
                self.ignored += 1
                return []
            peer = self._channel_peers.get(number)
            if peer is None:
                self.ignored += 1
                return []
            return [Received(payload, peer)]
        try:
            message = StunMessage.parse(data)
        except StunParseError:
            self.ignored += 1
            return []
        if message.cls is Class.INDICATION and message.method == Method.DATA:
            sender, value = message.peer_address, message.get(Attr.DATA)
            # RFC 8656 11.4: data from a peer we gave no permission is dropped.
            if sender is None or not isinstance(value, bytes) or sender[0] not in self._permissions:
                self.ignored += 1
                return []
            return [Received(value, sender)]
        request = self._pending.get(message.transaction_id)
        if request is None or request.tx is None:
            self.ignored += 1
            return []
        return self._settle(request, request.tx.receive_message(message, now), now)

    def permit(self, peer: Address, now: float) -> list[Effect]:
        """Let ``peer`` send to us through the relay (CreatePermission, and a channel when enabled)."""
        if self.state is not TurnState.ALLOCATED:
            return []
        effects: list[Effect] = []
        if peer[0] not in self._permissions:
            if len(self._permissions) >= MAX_PERMISSIONS:
                return [Failed(TurnError(f"{self.server}: no more than {MAX_PERMISSIONS} peers per relay"), False)]
            effects += self._permit(peer[0], now)
        if self.channels and peer not in self._channels and self._next_channel <= LAST_CHANNEL:
            number, self._next_channel = self._next_channel, self._next_channel + 1
            effects += self._bind(peer, number, now)
        return effects

    def wrap(self, payload: bytes, peer: Address) -> bytes:
        """What to send the server so that ``payload`` leaves the relay for ``peer``: ChannelData or Send."""
        if peer in self._bound:
            return channel_data(self._channels[peer], payload, stream=self.stream)
        message = StunMessage(Method.SEND, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, peer).add(Attr.DATA, payload)
        return message.encode(fingerprint=False)

    def permitted(self, peer: Address) -> bool:
        return peer[0] in self._permissions

    def close(self, now: float) -> list[Effect]:
        """RFC 8656 7: a Refresh with LIFETIME 0 deletes the allocation; nothing is sent unless it exists."""
        allocated = self.state is TurnState.ALLOCATED
        self.state = TurnState.CLOSED
        self._refresh_at = math.inf
        self._permissions.clear()
        self._channel_due.clear()
        self._bound.clear()
        if not allocated:
            self._pending.clear()
            return []
        self._pending.clear()
        return self._send(Method.REFRESH, "close", [(Attr.LIFETIME, 0)], now)

    # --- requests and answers -------------------------------------------------------------------

    def _allocate(self, now: float, stale: int) -> list[Effect]:
        attributes: list[tuple[int, object]] = [(Attr.REQUESTED_TRANSPORT, UDP), (Attr.LIFETIME, self.lifetime)]
        return self._send(Method.ALLOCATE, "allocate", attributes, now, stale=stale)

    def _permit(self, ip: str, now: float) -> list[Effect]:
        self._permissions[ip] = math.inf  # asked for; refreshed once the answer sets the next due time
        return self._send(Method.CREATE_PERMISSION, "permission", [(Attr.XOR_PEER_ADDRESS, (ip, 0))], now, (ip, 0))

    def _bind(self, peer: Address, number: int, now: float) -> list[Effect]:
        self._channels[peer] = number
        self._channel_peers[number] = peer
        self._channel_due[peer] = math.inf
        attributes: list[tuple[int, object]] = [(Attr.CHANNEL_NUMBER, number), (Attr.XOR_PEER_ADDRESS, peer)]
        return self._send(Method.CHANNEL_BIND, "channel", attributes, now, peer)

    def _send(
        self,
        method: Method,
        purpose: str,
        attributes: list[tuple[int, object]],
        now: float,
        peer: Address | None = None,
        stale: int = 0,
    ) -> list[Effect]:
        return self._start(_Request(method, purpose, attributes, peer, stale), now)

    def _start(self, request: _Request, now: float) -> list[Effect]:
        message = StunMessage(request.method, Class.REQUEST)
        for attr, value in request.attributes:
            message.add(attr, value)
        if self._key is not None and self._realm is not None and self._nonce is not None:
            message.add(Attr.USERNAME, self.username).add(Attr.REALM, self._realm).add(Attr.NONCE, self._nonce)
        message.add(Attr.SOFTWARE, self.software)
        if self.stream:
            schedule = STREAM_SETUP if request.purpose == "allocate" else STREAM_UPKEEP
        else:
            schedule = self.setup if request.purpose == "allocate" else self.upkeep
        request.tx = BindingTransaction(message, schedule, key=self._key, unsigned_errors=True)
        self._pending[message.transaction_id] = request
        return self._settle(request, request.tx.start(now), now)

    def _settle(self, request: _Request, effects: list[TransactionEffect], now: float) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Send):
                out.append(effect)
                continue
            assert request.tx is not None
            self._pending.pop(request.tx.transaction_id, None)
            if isinstance(effect, Succeeded):
                out += self._succeeded(request, effect.response, now)
            elif isinstance(effect, TransactionFailed):
                out += self._refused(request, effect, now)
            elif isinstance(effect, TimedOut):
                schedule = request.tx.retransmission
                out += self._lost(
                    request,
                    f"{self.server} did not answer {request.method.name} "
                    f"({effect.requests} requests in {schedule.timeout:.2f} s)",
                )
        return out

    def _succeeded(self, request: _Request, response: StunMessage, now: float) -> list[Effect]:
        if request.purpose == "allocate":
            relayed = response.relayed_address
            if relayed is None:
                return self._lost(request, f"{self.server} allocated without an XOR-RELAYED-ADDRESS")
            self.relayed, self.mapped = relayed, response.reflexive_address
            lifetime = response.lifetime or self.lifetime
            self.state = TurnState.ALLOCATED
            self._schedule_refresh(lifetime, now)
            return [Allocated(relayed, self.mapped, lifetime)]
        if request.purpose == "refresh" and self.state is TurnState.ALLOCATED:
            self._schedule_refresh(response.lifetime or self.lifetime, now)
        elif request.purpose == "permission" and request.peer is not None and request.peer[0] in self._permissions:
            self._permissions[request.peer[0]] = now + PERMISSION_REFRESH
        elif request.purpose == "channel" and request.peer in self._channels:
            self._channel_due[request.peer] = now + CHANNEL_REFRESH
            self._bound.add(request.peer)
        return []

    def _schedule_refresh(self, lifetime: int, now: float) -> None:
        # Refresh a minute before the end, or halfway through a short lifetime.
        self._refresh_at = now + (lifetime - 60 if lifetime > 120 else lifetime / 2)

    def _refused(self, request: _Request, failed: TransactionFailed, now: float) -> list[Effect]:
        code = failed.error.code if failed.error is not None else None
        response = failed.response
        if code in (401, 438) and response is not None:
            realm, nonce = response.get(Attr.REALM), response.get(Attr.NONCE)
            first_challenge = code == 401 and self._key is None and request.purpose == "allocate"
            if isinstance(nonce, str) and (first_challenge or (code == 438 and request.stale < MAX_STALE_RETRIES)):
                # RFC 8489 9.2.5: take REALM and NONCE and send the request again, signed.
                if isinstance(realm, str):
                    self._realm = realm
                if self._realm is None:
                    return self._lost(request, f"{self.server} challenged without a REALM")
                self._nonce = nonce
                self._key = long_term_key(self.username, self._realm, self.password)
                stale = request.stale + (code == 438)
                retry = _Request(request.method, request.purpose, request.attributes, request.peer, stale)
                return self._start(retry, now)
            if code == 401 and self._key is not None:
                return self._lost(
                    request,
                    f"{self.server} refused the credentials of user {self.username!r} "
                    f"({failed.reason}): wrong user name or password",
                )
        return self._lost(request, f"{self.server} refused {request.method.name}: {failed.reason}")

    def _lost(self, request: _Request, message: str) -> list[Effect]:
        if request.purpose == "close":
            return []
        if request.purpose in ("permission", "channel"):
            if request.purpose == "permission" and request.peer is not None:
                self._permissions.pop(request.peer[0], None)
            elif request.peer is not None:
                self._channel_peers.pop(self._channels.pop(request.peer, -1), None)
                self._channel_due.pop(request.peer, None)
                self._bound.discard(request.peer)
            return [Failed(TurnError(message), fatal=False)]
        self.state = TurnState.FAILED
        self._refresh_at = math.inf
        self._pending.clear()
        return [Failed(TurnError(message))]
