"""The ICE agent of one media stream with one component (rtcp-mux), full ICE, sans-I/O (RFC 8445).

The agent is given both sides' credentials and candidates from the offer and
answer, and whether it is the controlling agent (the offerer, RFC 8445
6.1.1). The media thread then feeds it:

- :meth:`IceAgent.receive` every STUN datagram that arrived on the media
  socket, with its source and whether it came through our TURN relay
  (``Path.RELAY``) or straight to the socket (``Path.DIRECT``);
- :meth:`IceAgent.on_timer` at every media tick (20 ms, which is the pacing
  Ta of RFC 8445 14.2: one new check per tick at most).

and sends the :class:`Transmit` effects it returns. Our candidates share one
base, the call's UDP socket, so a pair's local side is one of two paths:
straight from the socket (host, or server-reflexive after the NAT) or
through the relay. :class:`Selected` says which pair media now uses;
:class:`IceFailed` that no pair works; :class:`ConsentLost` that the
selected pair stopped answering consent checks (RFC 7675) and media must
stop.

Every check and answer carries MESSAGE-INTEGRITY with the short-term
credentials from SDP and a FINGERPRINT. A request that fails either is
dropped without an answer, so a stranger can neither learn that a call is
running nor make us send anything; what a peer sends beyond the bounds here
(remote candidates, pairs) is counted and ignored.
"""

from __future__ import annotations

import enum
import math
import random
import secrets
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from softphone.ice.candidate import Candidate, CandidateType, pair_priority, priority
from softphone.stun.message import Attr, Class, ErrorCode, Method, StunMessage, StunParseError, short_term_key
from softphone.stun.transaction import BindingTransaction, Failed, Retransmission, Send, Succeeded, TimedOut

__all__ = [
    "CHECK",
    "ConsentLost",
    "Credentials",
    "Effect",
    "IceAgent",
    "IceFailed",
    "IceState",
    "PairState",
    "Path",
    "Route",
    "Selected",
    "Transmit",
]

Address = tuple[str, int]

# One check: sent at 0, 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s, then 1.6 s more: 7.9 s in all. The two ends
# start their checks at different times (the answer reaches the offerer later); a peer whose early
# checks were lost before the relay's permission existed still finds us checking.
CHECK = Retransmission(rto=0.1, rc=7, rm=16)
# A consent check (RFC 7675 5.1): a few retransmissions inside the 5 s between checks.
CONSENT = Retransmission(rto=0.5, rc=4, rm=2)
CONSENT_INTERVAL = 5.0  # RFC 7675 5.1: randomised to 0.8-1.2 times this
CONSENT_TIMEOUT = 30.0  # RFC 7675 5.1
# The longest the checks may run with no pair that works.
CHECKING_TIMEOUT = 10.0
# The controlling agent waits this long after the first valid pair for better ones still in progress.
NOMINATION_WAIT = 1.0
MAX_REMOTE_CANDIDATES = 16
MAX_PEER_REFLEXIVE = 8
MAX_PAIRS = 48
_CHECKING, _CONNECTED, _FAILED = "checking", "connected", "failed"


class Path(enum.Enum):
    DIRECT = "direct"
    RELAY = "relay"


class PairState(enum.Enum):
    WAITING = "Waiting"
    IN_PROGRESS = "In-Progress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class IceState(enum.Enum):
    CHECKING = _CHECKING
    CONNECTED = _CONNECTED
    FAILED = _FAILED


@dataclass(frozen=True, slots=True)
class Credentials:
    ufrag: str
    pwd: str

    @classmethod
    def new(cls) -> Credentials:
        """RFC 8445 5.3: at least 24 bits of randomness in the ufrag and 128 in the password."""
        alphabet = string.ascii_letters + string.digits
        return cls(
            "".join(secrets.choice(alphabet) for _ in range(8)), "".join(secrets.choice(alphabet) for _ in range(24))
        )


@dataclass(frozen=True, slots=True)
class Route:
    """The path media takes, for the quality panel: ``kind`` host, srflx or relay, and the two ends."""

    kind: str
    local: Address
    remote: Address
    path: Path


@dataclass(frozen=True, slots=True)
class Transmit:
    data: bytes
    remote: Address
    path: Path


@dataclass(frozen=True, slots=True)
class Selected:
    route: Route


@dataclass(frozen=True, slots=True)
class IceFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class ConsentLost:
    reason: str


Effect = Transmit | Selected | IceFailed | ConsentLost


@dataclass(eq=False)
class _Pair:
    path: Path
    local: Candidate
    remote: Candidate
    priority: int
    state: PairState = PairState.WAITING
    tx: BindingTransaction | None = None
    nominating: bool = False
    valid: bool = False
    mapped: Address | None = None
    nominated_by_peer: bool = False
    # A check signed with our password came in on this pair: the peer may send media on it.
    checked_by_peer: bool = False


@dataclass
class IceAgent:
    """See the module documentation. ``local_candidates`` are ours (one base; a relay candidate means a relay)."""

    local: Credentials
    remote: Credentials
    local_candidates: tuple[Candidate, ...]
    remote_candidates: list[Candidate]
    controlling: bool
    tiebreaker: int = field(default_factory=lambda: secrets.randbits(64))
    rng: random.Random = field(default_factory=random.Random)
    state: IceState = IceState.CHECKING
    selected: _Pair | None = None
    dropped: Counter[str] = field(default_factory=Counter)
    checks_sent: int = 0
    answered: int = 0
    _pairs: list[_Pair] = field(default_factory=list)
    _by_tx: dict[bytes, _Pair] = field(default_factory=dict)
    _triggered: list[_Pair] = field(default_factory=list)
    _started: float = 0.0
    _first_valid: float | None = None
    _consent_tx: BindingTransaction | None = None
    _next_consent: float = math.inf
    _last_consent: float = 0.0
    _peer_reflexive: int = 0

    def __post_init__(self) -> None:
        usable = [c for c in self.remote_candidates if c.component == 1]
        if len(usable) > MAX_REMOTE_CANDIDATES:
            self.dropped["remote_candidates"] += len(usable) - MAX_REMOTE_CANDIDATES
        self.remote_candidates = sorted(usable, key=lambda c: -c.priority)[:MAX_REMOTE_CANDIDATES]
        behind_nat = {c.related for c in self.remote_candidates if c.type is CandidateType.SRFLX}
        for remote in self.remote_candidates:
            for path, local in self._bases():
                # A host address the peer's NAT hides is out of a relay's reach: a relayed check to it goes nowhere,
                # and some relays take a send error on the allocation (coturn stops relaying to us).
                if path is Path.RELAY and remote.type is CandidateType.HOST and remote.address in behind_nat:
                    continue
                self._add_pair(path, local, remote)

    # --- what the media thread calls ------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        self._started = now
        if not self._pairs:
            self.state = IceState.FAILED
            return [IceFailed("the peer's SDP has no candidate this phone can reach")]
        return self.on_timer(now)

    @property
    def route(self) -> Route | None:
        """Where media goes: the selected pair, or before one is selected the best valid pair (RFC 8445 12.1)."""
        if self.state is IceState.CONNECTED and self.selected is not None:
            return _route(self.selected)
        if self.state is IceState.CHECKING:
            valid = next((p for p in self._pairs if p.valid), None)
            return None if valid is None else _route(valid)
        return None

    def media_from(self, source: Address, path: Path) -> bool:
        """Media from ``source`` by ``path`` is the peer's: it came on a pair that is valid, or on which the
        peer's signed check came in. RFC 8445 12.1: until the nomination the peer may send on another valid pair
        than the one our media goes on."""
        key = _same(source)
        return any(
            (p.valid or p.checked_by_peer) and p.path is path and _same(p.remote.address) == key for p in self._pairs
        )

    @property
    def next_check_due(self) -> bool:
        return any(p.state is PairState.WAITING for p in self._pairs)

    def on_timer(self, now: float) -> list[Effect]:
        if self.state is IceState.FAILED:
            return []
        effects: list[Effect] = []
        for pair in list(self._by_tx.values()):
            if pair.tx is not None:
                effects += self._settle(pair, pair.tx.on_timer(now), now)
        if self.state is IceState.CONNECTED:
            return effects + self._consent(now)
        effects += self._next_check(now)
        effects += self._nominate(now)
        if self.state is IceState.CHECKING and self._given_up(now):
            self.state = IceState.FAILED
            waited = now - self._started
            effects.append(IceFailed(f"no candidate pair answered in {waited:.1f} s ({len(self._pairs)} tried)"))
        return effects

    def receive(self, data: bytes, source: Address, path: Path, now: float) -> list[Effect]:
        """A STUN datagram from ``source`` by ``path``: a peer's check, or an answer to one of ours."""
        try:
            message = StunMessage.parse(data)
        except StunParseError:
            self.dropped["malformed"] += 1
            return []
        if message.method != Method.BINDING:
            self.dropped["not_binding"] += 1
            return []
        if message.cls is Class.REQUEST:
            return self._request(message, source, path, now)
        if message.cls is Class.INDICATION:
            return []  # RFC 8445 11: a keepalive; nothing to answer
        return self._answer(message, source, path, now)

    # --- our checks -------------------------------------------------------------------------------

    def _bases(self) -> list[tuple[Path, Candidate]]:
        bases: list[tuple[Path, Candidate]] = []
        for candidate in self.local_candidates:
            if candidate.type is CandidateType.HOST:
                bases.append((Path.DIRECT, candidate))
            elif candidate.type is CandidateType.RELAY:
                bases.append((Path.RELAY, candidate))
        # RFC 8445 6.1.2.4: a server-reflexive candidate is replaced by its base (the host one): no pairs of its own.
        return bases

    def _add_pair(self, path: Path, local: Candidate, remote: Candidate) -> _Pair | None:
        if _family(local.host) != _family(remote.host):
            return None
        for pair in self._pairs:
            if pair.path is path and pair.remote.address == remote.address:
                return pair
        if len(self._pairs) >= MAX_PAIRS:
            self.dropped["pairs"] += 1
            return None
        ours, theirs = local.priority, remote.priority
        prio = pair_priority(ours, theirs) if self.controlling else pair_priority(theirs, ours)
        pair = _Pair(path, local, remote, prio)
        self._pairs.append(pair)
        self._pairs.sort(key=lambda p: -p.priority)
        return pair

    def _next_check(self, now: float) -> list[Effect]:
        while self._triggered:
            pair = self._triggered.pop(0)
            if pair.state is PairState.WAITING:
                return self._check(pair, now)
        for pair in self._pairs:
            if pair.state is PairState.WAITING:
                return self._check(pair, now)
        return []

    def _check(self, pair: _Pair, now: float, *, nominate: bool = False) -> list[Effect]:
        request = StunMessage(Method.BINDING, Class.REQUEST)
        request.add(Attr.USERNAME, f"{self.remote.ufrag}:{self.local.ufrag}")
        # RFC 8445 7.1.1: the priority a peer-reflexive candidate of ours would have.
        kind = CandidateType.RELAY if pair.path is Path.RELAY else CandidateType.PRFLX
        request.add(Attr.PRIORITY, priority(kind))
        role = Attr.ICE_CONTROLLING if self.controlling else Attr.ICE_CONTROLLED
        request.add(role, self.tiebreaker)
        if nominate:
            request.add(Attr.USE_CANDIDATE, b"")
        tx = BindingTransaction(request, CHECK, key=short_term_key(self.remote.pwd))
        if pair.tx is not None:
            self._by_tx.pop(pair.tx.transaction_id, None)
        pair.tx, pair.nominating = tx, nominate
        if pair.state is not PairState.SUCCEEDED:
            pair.state = PairState.IN_PROGRESS
        self._by_tx[tx.transaction_id] = pair
        self.checks_sent += 1
        return self._sends(pair, tx.start(now))

    def _sends(self, pair: _Pair, effects: Sequence[object]) -> list[Effect]:
        return [Transmit(e.data, pair.remote.address, pair.path) for e in effects if isinstance(e, Send)]

    def _answer(self, message: StunMessage, source: Address, path: Path, now: float) -> list[Effect]:
        pair = self._by_tx.get(message.transaction_id)
        if pair is None:
            if self._consent_tx is not None and message.transaction_id == self._consent_tx.transaction_id:
                return self._consent_answer(message, source, path, now)
            self.dropped["unknown_transaction"] += 1
            return []
        # RFC 8445 7.2.5.2.1: the answer must come from where the check went, by the same path.
        if path is not pair.path or _same(source) != _same(pair.remote.address):
            self.dropped["wrong_source"] += 1
            return []
        assert pair.tx is not None
        return self._settle(pair, pair.tx.receive_message(message, now), now)

    def _settle(self, pair: _Pair, effects: Sequence[object], now: float) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Send):
                out.append(Transmit(effect.data, pair.remote.address, pair.path))
                continue
            if pair.tx is not None:
                self._by_tx.pop(pair.tx.transaction_id, None)
            if isinstance(effect, Succeeded):
                out += self._succeeded(pair, effect.response, now)
            elif isinstance(effect, Failed) and effect.error is not None and effect.error.code == 487:
                # RFC 8445 7.2.5.1: a role conflict: take the other role and check the pair again.
                self.controlling = not self.controlling
                self._reprioritise()
                pair.state = PairState.WAITING
                self._triggered.append(pair)
            elif isinstance(effect, (Failed, TimedOut)):
                pair.state = PairState.FAILED
                if pair.nominating:
                    pair.valid, pair.nominating = False, False
        return out

    def _succeeded(self, pair: _Pair, response: StunMessage, now: float) -> list[Effect]:
        pair.state, pair.valid = PairState.SUCCEEDED, True
        pair.mapped = response.reflexive_address
        if self._first_valid is None:
            self._first_valid = now
        if self.state is not IceState.CHECKING:
            return []
        if (self.controlling and pair.nominating) or (not self.controlling and pair.nominated_by_peer):
            return self._select(pair, now)
        return []

    def _nominate(self, now: float) -> list[Effect]:
        """RFC 8445 8.1.1: the controlling agent nominates the best valid pair, once better ones are done."""
        if not self.controlling or self.state is not IceState.CHECKING or self._first_valid is None:
            return []
        if any(p.nominating and p.state is PairState.IN_PROGRESS for p in self._pairs):
            return []
        valid = [p for p in self._pairs if p.valid]
        if not valid:
            return []
        best = valid[0]  # pairs are kept sorted by priority
        pending = any(
            p.priority > best.priority and p.state in (PairState.WAITING, PairState.IN_PROGRESS) for p in self._pairs
        )
        if pending and now - self._first_valid < NOMINATION_WAIT:
            return []
        return self._check(best, now, nominate=True)

    def _select(self, pair: _Pair, now: float) -> list[Effect]:
        self.selected = pair
        self.state = IceState.CONNECTED
        self._triggered.clear()
        for other in self._pairs:
            if other is not pair and other.tx is not None:
                self._by_tx.pop(other.tx.transaction_id, None)
                other.tx = None
        self._last_consent = now
        self._next_consent = now + self._consent_interval()
        return [Selected(_route(pair))]

    def _given_up(self, now: float) -> bool:
        if any(p.valid for p in self._pairs):
            return False
        if now - self._started >= CHECKING_TIMEOUT:
            return True
        return bool(self._pairs) and all(p.state is PairState.FAILED for p in self._pairs)

    def _reprioritise(self) -> None:
        for pair in self._pairs:
            ours, theirs = pair.local.priority, pair.remote.priority
            pair.priority = pair_priority(ours, theirs) if self.controlling else pair_priority(theirs, ours)
        self._pairs.sort(key=lambda p: -p.priority)

    # --- consent freshness (RFC 7675) -----------------------------------------------------------

    def _consent_interval(self) -> float:
        return CONSENT_INTERVAL * self.rng.uniform(0.8, 1.2)

    def _consent(self, now: float) -> list[Effect]:
        pair = self.selected
        assert pair is not None
        effects: list[Effect] = []
        tx = self._consent_tx
        if tx is not None:
            for effect in tx.on_timer(now):
                if isinstance(effect, Send):
                    effects.append(Transmit(effect.data, pair.remote.address, pair.path))
                else:
                    self._consent_tx = None
        if now - self._last_consent >= CONSENT_TIMEOUT:
            self.state = IceState.FAILED
            return [*effects, ConsentLost(f"no answer from {_text(pair.remote.address)} for {CONSENT_TIMEOUT:.0f} s")]
        if self._consent_tx is None and now >= self._next_consent:
            self._next_consent = now + self._consent_interval()
            request = StunMessage(Method.BINDING, Class.REQUEST)
            request.add(Attr.USERNAME, f"{self.remote.ufrag}:{self.local.ufrag}")
            role = Attr.ICE_CONTROLLING if self.controlling else Attr.ICE_CONTROLLED
            request.add(role, self.tiebreaker)
            self._consent_tx = BindingTransaction(request, CONSENT, key=short_term_key(self.remote.pwd))
            sends = [e for e in self._consent_tx.start(now) if isinstance(e, Send)]
            effects += [Transmit(e.data, pair.remote.address, pair.path) for e in sends]
        return effects

    def _consent_answer(self, message: StunMessage, source: Address, path: Path, now: float) -> list[Effect]:
        pair, tx = self.selected, self._consent_tx
        assert tx is not None
        if pair is None or path is not pair.path or _same(source) != _same(pair.remote.address):
            self.dropped["wrong_source"] += 1
            return []
        if any(isinstance(e, Succeeded) for e in tx.receive_message(message, now)):
            self._last_consent = now
        if tx.done:
            self._consent_tx = None
        return []

    # --- the peer's checks ------------------------------------------------------------------------

    def _request(self, message: StunMessage, source: Address, path: Path, now: float) -> list[Effect]:
        username = message.get(Attr.USERNAME)
        if not message.fingerprinted:
            self.dropped["no_fingerprint"] += 1
            return []
        if not isinstance(username, str) or username.split(":", 1)[0] != self.local.ufrag:
            self.dropped["wrong_username"] += 1
            return []
        if not message.check_integrity(short_term_key(self.local.pwd)):
            self.dropped["bad_integrity"] += 1
            return []
        conflict = self._role_conflict(message)
        if conflict is not None:
            return [conflict(source, path)]
        response = StunMessage(Method.BINDING, Class.SUCCESS, message.transaction_id)
        response.add(Attr.XOR_MAPPED_ADDRESS, (source[0], source[1]))
        self.answered += 1
        effects: list[Effect] = [Transmit(response.encode(short_term_key(self.local.pwd)), source, path)]
        if self.state is IceState.FAILED:
            return effects
        pair = self._pair_for(message, source, path)
        if pair is None:
            return effects
        pair.checked_by_peer = True
        if message.get(Attr.USE_CANDIDATE) is not None and not self.controlling:
            pair.nominated_by_peer = True
            if pair.valid and self.state is IceState.CHECKING:
                return effects + self._select(pair, now)
        if self.state is IceState.CHECKING and pair.state in (PairState.WAITING, PairState.FAILED):
            # RFC 8445 7.3.1.4: a triggered check on the pair the request arrived on.
            pair.state = PairState.WAITING
            self._triggered.append(pair)
        return effects

    def _pair_for(self, message: StunMessage, source: Address, path: Path) -> _Pair | None:
        remote = next((c for c in self.remote_candidates if _same(c.address) == _same(source)), None)
        if remote is None:
            # RFC 8445 7.3.1.3: a peer-reflexive candidate, with the priority its check carried.
            if self._peer_reflexive >= MAX_PEER_REFLEXIVE:
                self.dropped["peer_reflexive"] += 1
                return None
            value = message.get(Attr.PRIORITY)
            prio = value if isinstance(value, int) and 0 < value < 2**31 else priority(CandidateType.PRFLX)
            remote = Candidate(f"p{self._peer_reflexive}", 1, prio, source[0], source[1], CandidateType.PRFLX)
            self._peer_reflexive += 1
            self.remote_candidates.append(remote)
        base = next((c for p, c in self._bases() if p is path), None)
        return None if base is None else self._add_pair(path, base, remote)

    def _role_conflict(self, message: StunMessage) -> _Conflict | None:
        """RFC 8445 7.3.1.1: switch roles, or answer 487 and keep ours."""
        theirs_controlling = message.get(Attr.ICE_CONTROLLING)
        theirs_controlled = message.get(Attr.ICE_CONTROLLED)
        if self.controlling and isinstance(theirs_controlling, int):
            if self.tiebreaker >= theirs_controlling:
                return _Conflict(message, self.local)
            self.controlling = False
            self._reprioritise()
        elif not self.controlling and isinstance(theirs_controlled, int):
            if self.tiebreaker >= theirs_controlled:
                self.controlling = True
                self._reprioritise()
            else:
                return _Conflict(message, self.local)
        return None


@dataclass(frozen=True, slots=True)
class _Conflict:
    request: StunMessage
    local: Credentials

    def __call__(self, source: Address, path: Path) -> Transmit:
        response = StunMessage(Method.BINDING, Class.ERROR, self.request.transaction_id)
        response.add(Attr.ERROR_CODE, ErrorCode(487, "Role Conflict"))
        return Transmit(response.encode(short_term_key(self.local.pwd)), source, path)


def _route(pair: _Pair) -> Route:
    if pair.path is Path.RELAY or pair.remote.type is CandidateType.RELAY:
        kind = "relay"
    elif (pair.mapped is not None and _same(pair.mapped) != _same(pair.local.address)) or pair.remote.type in (
        CandidateType.SRFLX,
        CandidateType.PRFLX,
    ):
        kind = "srflx"
    else:
        kind = "host"
    return Route(kind, pair.local.address, pair.remote.address, pair.path)


def _family(host: str) -> int:
    return 6 if ":" in host else 4


def _same(address: Address) -> Address:
    """An address as recvfrom spells it on an IPv4 or IPv6 socket, for comparison."""
    host = address[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host.lower(), int(address[1]))


def _text(address: Address) -> str:
    return f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
