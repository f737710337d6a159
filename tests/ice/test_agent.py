"""The ICE agent against another agent over a simulated network (sans-I/O: no sockets, a made-up clock)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.ice.agent import (
    CHECKING_TIMEOUT,
    CONSENT_TIMEOUT,
    ConsentLost,
    Credentials,
    Effect,
    IceAgent,
    IceFailed,
    IceState,
    Path,
    Selected,
    Transmit,
)
from softphone.ice.candidate import Candidate, CandidateType, local_candidates, parse_candidate, priority
from softphone.stun.message import Attr, Class, Method, StunMessage, short_term_key

Address = tuple[str, int]
# A network: given who sends (0 or 1) and what, where it arrives: (receiver, source seen, path) or None (lost).
Network = Callable[[int, Transmit], tuple[int, Address, Path] | None]

A_HOST, B_HOST = ("10.0.0.1", 4000), ("10.0.1.1", 5000)


def pair_of(a_candidates: tuple[Candidate, ...], b_candidates: tuple[Candidate, ...]) -> tuple[IceAgent, IceAgent]:
    a_cred, b_cred = Credentials.new(), Credentials.new()
    a = IceAgent(a_cred, b_cred, a_candidates, list(b_candidates), controlling=True)
    b = IceAgent(b_cred, a_cred, b_candidates, list(a_candidates), controlling=False)
    return a, b


def run(agents: tuple[IceAgent, IceAgent], network: Network, seconds: float = 15.0) -> list[list[Effect]]:
    """Tick both agents every 20 ms, delivering what they send at once; every non-Transmit effect, per agent."""
    seen: list[list[Effect]] = [[], []]
    now = 0.0
    queue: list[tuple[int, Effect]] = []
    for index, agent in enumerate(agents):
        queue += [(index, e) for e in agent.start(now)]
    while now < seconds:
        while queue:
            sender, effect = queue.pop(0)
            if not isinstance(effect, Transmit):
                seen[sender].append(effect)
                continue
            delivered = network(sender, effect)
            if delivered is not None:
                receiver, source, path = delivered
                queue += [(receiver, e) for e in agents[receiver].receive(effect.data, source, path, now)]
        now += 0.02
        for index, agent in enumerate(agents):
            queue += [(index, e) for e in agent.on_timer(now)]
    return seen


def open_network(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
    """Every host address reaches the other; no relay."""
    own = A_HOST if sender == 0 else B_HOST
    other_host = B_HOST if sender == 0 else A_HOST
    if t.path is Path.DIRECT and t.remote == other_host:
        return 1 - sender, own, Path.DIRECT
    return None


def test_two_agents_on_one_network_select_the_host_pair() -> None:
    a, b = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    seen = run((a, b), open_network, seconds=3)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED
    for effects in seen:
        selected = [e for e in effects if isinstance(e, Selected)]
        assert len(selected) == 1 and selected[0].route.kind == "host"
    assert a.route is not None and a.route.remote == B_HOST and b.route is not None and b.route.remote == A_HOST


A_PUBLIC, B_PUBLIC = ("203.0.113.10", 40000), ("203.0.113.20", 50000)


def test_behind_two_nats_the_reflexive_pair_connects_and_peer_reflexive_sources_are_learned() -> None:
    """Each side's direct packets leave from its NAT's address; the host addresses reach nobody."""
    a, b = pair_of(local_candidates(A_HOST, A_PUBLIC), local_candidates(B_HOST, B_PUBLIC))
    punched: set[tuple[int, Address]] = set()

    def nat(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
        own_public, other_public = (A_PUBLIC, B_PUBLIC) if sender == 0 else (B_PUBLIC, A_PUBLIC)
        if t.path is not Path.DIRECT or t.remote != other_public:
            return None
        punched.add((sender, t.remote))
        # Like a home router: the far NAT lets in only what answers a packet its side sent first.
        if (1 - sender, own_public) not in punched:
            return None
        return 1 - sender, own_public, Path.DIRECT

    seen = run((a, b), nat, seconds=5)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED, (a.dropped, b.dropped)
    assert a.route is not None and a.route.kind == "srflx" and a.route.remote == B_PUBLIC
    assert b.route is not None and b.route.remote == A_PUBLIC
    assert not any(isinstance(e, IceFailed) for e in seen[0] + seen[1])


A_RELAY = ("203.0.113.3", 49200)


def test_when_only_the_relay_gets_through_the_relayed_pair_is_selected() -> None:
    """Symmetric NATs: direct packets never arrive; A's relay reaches B's host, and B answers to the relay."""
    a, b = pair_of(local_candidates(A_HOST, A_PUBLIC, A_RELAY), local_candidates(B_HOST, B_PUBLIC))

    def symmetric(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
        if sender == 0 and t.path is Path.RELAY and t.remote in (B_PUBLIC, ("203.0.113.20", 61000)):
            return 1, A_RELAY, Path.DIRECT
        if sender == 1 and t.path is Path.DIRECT and t.remote == A_RELAY:
            # B's NAT gives this destination a mapping of its own.
            return 0, ("203.0.113.20", 61000), Path.RELAY
        return None

    run((a, b), symmetric, seconds=8)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED, (a.dropped, b.dropped)
    assert a.route is not None and a.route.kind == "relay" and a.route.path is Path.RELAY
    assert a.route.remote == ("203.0.113.20", 61000)
    assert b.route is not None and b.route.kind == "relay" and b.route.remote == A_RELAY


def test_a_peer_that_never_answers_fails_the_checks_within_the_timeout() -> None:
    a, b = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    seen = run((a, b), lambda sender, t: None, seconds=CHECKING_TIMEOUT + 1)
    failed = [e for e in seen[0] if isinstance(e, IceFailed)]
    assert a.state is IceState.FAILED and len(failed) == 1
    assert "no candidate pair answered" in failed[0].reason


def test_both_controlling_resolve_the_role_conflict_and_connect() -> None:
    a_cred, b_cred = Credentials.new(), Credentials.new()
    a = IceAgent(a_cred, b_cred, local_candidates(A_HOST), list(local_candidates(B_HOST)), controlling=True)
    b = IceAgent(b_cred, a_cred, local_candidates(B_HOST), list(local_candidates(A_HOST)), controlling=True)
    run((a, b), open_network, seconds=5)
    assert a.state is IceState.CONNECTED and b.state is IceState.CONNECTED
    assert a.controlling != b.controlling
    assert a.controlling is (a.tiebreaker > b.tiebreaker)


def test_consent_is_lost_when_the_peer_stops_answering() -> None:
    a, b = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    cut = [False]

    def network(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
        return None if cut[0] else open_network(sender, t)

    run((a, b), network, seconds=2)
    assert a.state is IceState.CONNECTED
    now, lost = 2.0, []
    for _ in range(int(12 / 0.02)):  # consent checks keep it up while answered
        now += 0.02
        for effect in a.on_timer(now):
            if isinstance(effect, Transmit) and (delivered := network(0, effect)) is not None:
                for answer in b.receive(effect.data, delivered[1], delivered[2], now):
                    assert isinstance(answer, Transmit)
                    a.receive(answer.data, B_HOST, Path.DIRECT, now)
    assert a.state is IceState.CONNECTED
    cut[0] = True
    end = now + CONSENT_TIMEOUT + 1
    while now < end:
        now += 0.02
        lost += [e for e in a.on_timer(now) if isinstance(e, ConsentLost)]
    assert a.state is IceState.FAILED and len(lost) == 1


def check(ufrag_pair: str, key: bytes, **extra: object) -> bytes:
    request = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.USERNAME, ufrag_pair)
    request.add(Attr.ICE_CONTROLLING, 1)
    return request.encode(key)


def test_checks_without_the_password_get_no_answer_and_create_nothing() -> None:
    a, b = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    b.start(0.0)
    stranger = ("198.51.100.66", 9999)
    good_user = f"{b.local.ufrag}:{a.local.ufrag}"
    assert b.receive(check(good_user, short_term_key("guessed-password-123456")), stranger, Path.DIRECT, 0.1) == []
    assert b.receive(check("nobody:x", short_term_key(b.local.pwd)), stranger, Path.DIRECT, 0.1) == []
    unsigned = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.USERNAME, good_user).encode(fingerprint=False)
    assert b.receive(unsigned, stranger, Path.DIRECT, 0.1) == []
    assert b.dropped == {"bad_integrity": 1, "wrong_username": 1, "no_fingerprint": 1}
    assert b.remote_candidates == list(local_candidates(A_HOST))  # no peer-reflexive candidate from a stranger
    # The peer, with the password, is answered from anywhere (its NAT may have mapped it anew).
    answers = b.receive(check(good_user, short_term_key(b.local.pwd)), stranger, Path.DIRECT, 0.2)
    assert len(answers) == 1 and isinstance(answers[0], Transmit) and answers[0].remote == stranger
    response = StunMessage.parse(answers[0].data)
    assert response.cls is Class.SUCCESS and response.xor_mapped_address == stranger
    assert response.check_integrity(short_term_key(b.local.pwd))


def test_peer_reflexive_candidates_are_bounded() -> None:
    a, b = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    b.start(0.0)
    key = short_term_key(b.local.pwd)
    for port in range(1000, 1100):
        b.receive(check(f"{b.local.ufrag}:{a.local.ufrag}", key), ("198.51.100.7", port), Path.DIRECT, 0.1)
    assert len(b.remote_candidates) <= 1 + 8 and b.dropped["peer_reflexive"] == 100 - 8


def test_too_many_remote_candidates_are_cut_to_the_best() -> None:
    many = [
        Candidate(str(n), 1, priority(CandidateType.HOST, local_preference=n), "10.9.0.1", 2000 + n, CandidateType.HOST)
        for n in range(100)
    ]
    agent = IceAgent(Credentials.new(), Credentials.new(), local_candidates(A_HOST), many, controlling=True)
    assert len(agent.remote_candidates) == 16 and agent.dropped["remote_candidates"] == 84
    assert min(c.port for c in agent.remote_candidates) == 2084


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_is_counted_and_never_raises(data: bytes) -> None:
    a, _ = pair_of(local_candidates(A_HOST), local_candidates(B_HOST))
    a.start(0.0)
    assert all(isinstance(e, Transmit) is False for e in a.receive(data, ("192.0.2.9", 7), Path.DIRECT, 0.1))


def test_candidate_lines_round_trip_and_bad_ones_are_refused() -> None:
    for candidate in local_candidates(A_HOST, A_PUBLIC, A_RELAY):
        assert parse_candidate(candidate.sdp()) == candidate
    baresip = "a1b2 1 udp 2130706431 192.0.2.5 10000 typ host generation 0"
    assert parse_candidate(baresip).address == ("192.0.2.5", 10000)
    for bad in (
        "",
        "1 1 TCP 2130706431 192.0.2.5 10000 typ host",
        "1 1 UDP 2130706431 abcd.local 10000 typ host",
        "1 1 UDP 99999999999 192.0.2.5 10000 typ host",
        "1 1 UDP 1 192.0.2.5 70000 typ host",
        "1 1 UDP 1 192.0.2.5 7000 typ bogus",
        "x" * 40 + " 1 UDP 1 192.0.2.5 7000 typ host",
        "1 1 UDP 1 192.0.2.5 7000 host",
    ):
        try:
            parse_candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_media_may_use_a_valid_pair_before_the_nomination() -> None:
    """RFC 8445 12.1: while better pairs are still being checked, the best valid one already carries media."""
    a, b = pair_of(local_candidates(A_HOST, A_PUBLIC), local_candidates(B_HOST, B_PUBLIC))

    def nat(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
        own_public, other_public = (A_PUBLIC, B_PUBLIC) if sender == 0 else (B_PUBLIC, A_PUBLIC)
        return (1 - sender, own_public, Path.DIRECT) if t.remote == other_public else None

    run((a, b), nat, seconds=0.5)
    assert a.state is IceState.CHECKING and a.selected is None  # the host pairs have not timed out yet
    assert a.route is not None and a.route.kind == "srflx" and a.route.remote == B_PUBLIC
    run((a, b), nat, seconds=3)
    assert a.state is IceState.CONNECTED and a.route is not None and a.route.remote == B_PUBLIC


def test_media_is_taken_from_pairs_the_peer_may_send_on_and_from_nowhere_else() -> None:
    """RFC 8445 12.1: before the nomination the peer may send media on any pair it found valid; we take media
    from a pair that is valid for us or on which its signed check came in, and never from an address it only
    listed, or from anyone else."""
    a, b = pair_of(local_candidates(A_HOST, A_PUBLIC), local_candidates(B_HOST, B_PUBLIC))
    assert not b.media_from(A_PUBLIC, Path.DIRECT)  # listed in the SDP, nothing checked yet

    def nat(sender: int, t: Transmit) -> tuple[int, Address, Path] | None:
        own_public, other_public = (A_PUBLIC, B_PUBLIC) if sender == 0 else (B_PUBLIC, A_PUBLIC)
        return (1 - sender, own_public, Path.DIRECT) if t.remote == other_public else None

    run((a, b), nat, seconds=0.5)
    assert b.media_from(A_PUBLIC, Path.DIRECT) and a.media_from(B_PUBLIC, Path.DIRECT)
    assert not b.media_from(A_PUBLIC, Path.RELAY)  # the same address by a path no check took
    assert not b.media_from(A_HOST, Path.DIRECT)  # listed, but no check got through from there
    assert not b.media_from(("198.51.100.66", 9999), Path.DIRECT)
    # A signed check from a new address (the peer's NAT mapped it anew) makes it a source media may come from.
    key = short_term_key(b.local.pwd)
    moved = ("203.0.113.99", 7000)
    b.receive(check(f"{b.local.ufrag}:{a.local.ufrag}", key), moved, Path.DIRECT, 0.6)
    assert b.media_from(moved, Path.DIRECT)
