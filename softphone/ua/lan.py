"""LAN discovery with multicast DNS and DNS-SD (RFC 6762/6763): who else is on this network, with no server.

:class:`LanDiscovery` is the user agent's ``lan`` attribute. Once started it

- **announces** each account whose :attr:`~softphone.ua.account.Account.announces_on_lan` is on (a LAN-only
  account unless the user turned it off; a server account only when the user turned it on) as a
  ``_sip._udp`` and a ``_sip._tcp`` service: the instance name is the display name (else the user part), the
  SRV record names our SIP port and a host name of our own, A/AAAA records the addresses we listen on, and
  the TXT record carries ``name`` (display name), ``aor``, ``calls`` (``yes`` when the account takes direct
  calls) and ``id`` (this phone's random token, so that we know our own records). A name already taken on
  the LAN is renamed by probing (RFC 6762 9: ``Alice`` becomes ``Alice-2``); the name in use is reported
  as a :class:`~softphone.ua.events.LanAnnounceEvent`.
- **browses** for the others' ``_sip._udp``/``_sip._tcp`` services. Each peer resolved is reported as a
  :class:`~softphone.ua.events.LanPeerEvent` (``up``), with a ``sip:`` URI built from its AOR's user part and
  the address and port it announced; a peer whose records are withdrawn (its goodbye, or their TTL ran
  out) as ``down``. Peers of a peer-to-peer account are watched with the presence service (their presence
  is served peer to peer, and their own watcher policy decides what we see).

What a peer announces is a claim from a stranger. It never makes the phone ring: an INVITE from a
discovered peer meets the same direct-call policy (``Account.direct_calls``, ``ua/router.py``) as any
other, and the same watcher policy for presence. Everything a stranger can send is bounded: at most
:data:`MAX_PEERS` peers kept, :data:`MAX_RESOLVING` names resolved at a time, TXT records over
:data:`MAX_TXT` bytes refused, names cut to :data:`MAX_NAME` characters with control characters removed,
and a record that does not parse is dropped with one log line (a flood of them is summed up, not logged
one by one).

zeroconf runs its own thread and asyncio loop (``use_asyncio=False``): nothing it does blocks the SIP
loop. Its callbacks come back to the UA's loop with ``call_soon_threadsafe``; the GUI sees only events.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import re
import secrets
import unicodedata
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from softphone.sip.errors import SipParseError
from softphone.sip.uri import SipUri, parse_uri
from softphone.transport import LimitLog
from softphone.ua.account import Account
from softphone.ua.errors import UserAgentError
from softphone.ua.events import LanAnnounceEvent, LanPeerEvent

if TYPE_CHECKING:
    from zeroconf import ServiceInfo, Zeroconf

    from softphone.ua.agent import UserAgent

__all__ = [
    "MAX_NAME",
    "MAX_PEERS",
    "MAX_TXT",
    "SERVICE_TYPES",
    "LanDiscovery",
    "LanPeer",
    "LanRecordError",
    "clean_name",
    "parse_txt",
    "peer_from_record",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# RFC 6763 7: the service types of SIP over UDP and TCP (RFC 3263's _sip._udp and _sip._tcp).
SERVICE_TYPES: dict[str, str] = {"UDP": "_sip._udp.local.", "TCP": "_sip._tcp.local."}
MAX_PEERS = 64
"""Peers kept at once; records of more are ignored until some leave."""
MAX_RESOLVING = 8
"""Names resolved at a time; a name announced while all are busy is looked at when it is announced again."""
MAX_WAITING = 64
"""Names waiting for a resolution slot; beyond, new names are dropped (and counted)."""
MAX_TXT = 1024
"""A peer whose TXT record is longer than this many bytes is not taken (ours is about 120)."""
MAX_NAME = 63
"""Characters of a name shown (an instance name is at most 63 bytes, RFC 6763 4.1.1)."""
MAX_AOR = 256
RESOLVE_TIMEOUT_MS = 3000
RECORD_TTL = 120
"""TTL of our records, seconds: a phone that died without a goodbye is gone from the others' lists by then."""
LOG_INTERVAL = 60.0
STOP_GRACE = 3.0
FIRST_ANSWERS = 1.5
"""Seconds of browsing before we announce: the names in use are known by then, so a taken one is renamed
(zeroconf's probe looks for a conflict among the services it has heard of)."""

_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,64}")
# C0/C1 controls, DEL, bidirectional overrides and isolates: never shown as they came.
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

PeerState = Literal["up", "down"]
_WILDCARDS = ("0.0.0.0", "::")


class LanRecordError(ValueError):
    """A peer's DNS-SD records that cannot be used (what was wrong, in words)."""


@dataclass(frozen=True, slots=True)
class LanPeer:
    """A phone found on the LAN: ``name`` is its DNS-SD instance name (unique on the link), ``display_name``
    what it calls itself, ``uri`` where calls and messages to it go."""

    name: str
    uri: str
    display_name: str
    aor: str | None
    accepts_calls: bool
    transport: str
    addresses: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Announcement:
    account: Account
    requested: str
    infos: list[ServiceInfo] = field(default_factory=list)


def clean_name(raw: str | bytes, limit: int = MAX_NAME) -> str:
    """A name from the network made safe to show: decoded (bad UTF-8 replaced), NFC, controls and bidi
    overrides removed, spaces collapsed, at most ``limit`` characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = _UNSHOWABLE.sub("", unicodedata.normalize("NFC", text))
    text = " ".join(text.split())
    return text[:limit].strip()


def parse_txt(raw: bytes) -> dict[str, bytes]:
    """RFC 6763 6: the ``key=value`` strings of a TXT record's rdata (keys in lower case, the first of a
    repeated key wins, a key without ``=`` is a flag with an empty value). Raises :class:`LanRecordError`
    when the record is longer than :data:`MAX_TXT` or a length byte runs past its end."""
    if len(raw) > MAX_TXT:
        raise LanRecordError(f"TXT record of {len(raw)} bytes (at most {MAX_TXT} taken)")
    pairs: dict[str, bytes] = {}
    i = 0
    while i < len(raw):
        length = raw[i]
        chunk = raw[i + 1 : i + 1 + length]
        if len(chunk) != length:
            raise LanRecordError("TXT record cut short")
        i += 1 + length
        key, _, value = chunk.partition(b"=")
        name = key.decode("ascii", "replace").lower()
        if name and name not in pairs:
            pairs[name] = value
    return pairs


def _host_in_uri(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _usable(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if ip.is_multicast or ip.is_unspecified or (ip.version == 6 and ip.is_link_local):
        return None
    return ip


def peer_from_record(
    instance: str,
    transport: str,
    port: int,
    addresses: Iterable[str],
    txt: bytes,
    *,
    families: Iterable[int] = (4, 6),
) -> LanPeer:
    """The peer one resolved service describes; raises :class:`LanRecordError` for records that cannot be
    used (no port, no address of a family we can reach, a TXT record too long or broken).

    ``families``: the IP versions we can send from, in order of preference."""
    name = clean_name(instance)
    if not name:
        raise LanRecordError("an instance name with nothing to show")
    if not 0 < port < 65536:
        raise LanRecordError(f"port {port} of {name!r}")
    pairs = parse_txt(txt)
    display = clean_name(pairs.get("name", b"")) or name
    aor: str | None = None
    user: str | None = None
    raw_aor = pairs.get("aor", b"")
    if raw_aor and len(raw_aor) <= MAX_AOR:
        try:
            parsed = parse_uri(raw_aor.decode("utf-8"))
        except (SipParseError, UnicodeDecodeError, ValueError):
            parsed = None
        if isinstance(parsed, SipUri):
            aor = str(parsed.replace(params={}, headers=[]))
            if parsed.user is not None and _USER_RE.fullmatch(parsed.user):
                user = parsed.user
    accepts = pairs.get("calls", b"yes").strip().lower() in (b"yes", b"1", b"true")
    found = [ip for ip in (_usable(a) for a in addresses) if ip is not None]
    chosen = None
    for version in families:
        candidates = [ip for ip in found if ip.version == version]
        # A loopback address only when the peer has nothing else (two phones with no network).
        candidates.sort(key=lambda ip: ip.is_loopback)
        if candidates:
            chosen = candidates[0]
            break
    if chosen is None:
        raise LanRecordError(f"no address of {name!r} that this phone can reach")
    host = _host_in_uri(str(chosen))
    params = "" if transport == "UDP" else f";transport={transport.lower()}"
    uri = f"sip:{user}@{host}:{port}{params}" if user else f"sip:{host}:{port}{params}"
    return LanPeer(
        name=name,
        uri=uri,
        display_name=display,
        aor=aor,
        accepts_calls=accepts,
        transport=transport,
        addresses=tuple(str(ip) for ip in found[:8]),
    )


def _instance_of(name: str, service_type: str) -> str:
    suffix = "." + service_type
    return name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name


def _instance_name(account: Account) -> str:
    """The instance name we ask for: display name, else user part; at most 63 bytes of UTF-8, no dots."""
    text = clean_name(account.display_name or account.user or "softphone").replace(".", " ").strip() or "softphone"
    encoded = text.encode("utf-8")[:56]  # room for a "-NN" of a rename
    return encoded.decode("utf-8", "ignore").strip() or "softphone"


class LanDiscovery:
    """Announcing our LAN accounts and finding the other phones; see the module documentation."""

    def __init__(self, ua: UserAgent) -> None:
        self._ua = ua
        self._zc: Zeroconf | None = None
        self._browser: Any = None
        self._token = secrets.token_hex(6)
        self._host = f"softphone-{self._token}.local."
        self._announced: dict[str, _Announcement] = {}
        self._own: set[str] = set()
        # Peers by instance name (lower case), with the services (transport -> peer) each one announced.
        self._services: dict[str, dict[str, LanPeer]] = {}
        self._shown: dict[str, LanPeer] = {}
        self._watched: dict[str, tuple[str, str]] = {}
        self._resolving: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._waiting: dict[tuple[str, str], None] = {}
        self._dropped = LimitLog(LOG_INTERVAL, logger=log)
        self._browsing_since = 0.0
        self._announcing: set[asyncio.Task[None]] = set()
        self._opening = False
        self._closing = False
        # Counts stops: a start whose sockets open after a stop (the phone quit meanwhile) closes them again.
        self._stops = 0
        ua.add_closer(self.stop)
        ua.add_account_hooks(self._account_added, self._account_removed)

    # --- life cycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._zc is not None

    async def start(self) -> None:
        """Open the mDNS sockets on their own thread, browse, and announce the accounts that announce."""
        if self._zc is not None or self._closing or self._opening:
            return
        families = self._families()
        if not families:
            raise UserAgentError("LAN discovery needs the phone to listen on IPv4 or IPv6 first (ua.start())")
        self._opening = True
        stops = self._stops
        try:
            zeroconf = await self._ua.run_blocking(_open_zeroconf, families, self._listen_hosts())
        finally:
            self._opening = False
        if self._stops != stops:
            # Stopped while the sockets opened: nothing may keep answering on the LAN after the phone quit.
            await self._ua.run_blocking(zeroconf.close)
            return
        self._zc = zeroconf
        loop = asyncio.get_running_loop()

        def changed(zeroconf: Zeroconf, service_type: str, name: str, state_change: Any) -> None:
            # On zeroconf's thread: only hand it over.
            with contextlib.suppress(RuntimeError):  # our loop is closed: we are stopping anyway
                loop.call_soon_threadsafe(self._changed, service_type, name, state_change.name)

        from zeroconf import ServiceBrowser

        self._browser = ServiceBrowser(zeroconf, list(SERVICE_TYPES.values()), handlers=[changed])
        self._browsing_since = self._ua.now()
        for account in list(self._ua.accounts):
            if account.announces_on_lan:
                self._announce_later(account)

    async def stop(self) -> None:
        """Withdraw our announcements (goodbye packets, RFC 6762 10.1) and close the mDNS sockets."""
        self._stops += 1
        zeroconf, self._zc = self._zc, None
        if zeroconf is None:
            return
        self._closing = True
        unfinished = [*self._resolving.values(), *self._announcing]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        self._resolving.clear()
        self._waiting.clear()
        browser, self._browser = self._browser, None
        infos = [info for a in self._announced.values() for info in a.infos]
        self._announced.clear()

        def close() -> None:
            if browser is not None:
                with contextlib.suppress(Exception):
                    browser.cancel()
            for info in infos:
                with contextlib.suppress(Exception):
                    zeroconf.unregister_service(info)
            zeroconf.close()

        try:
            await asyncio.wait_for(self._ua.run_blocking(close), STOP_GRACE + 2)
        except (TimeoutError, Exception) as exc:  # a goodbye that could not be sent is no reason to hang
            log.warning("closing LAN discovery: %s", exc or type(exc).__name__)
        self._dropped.close()
        for peer in list(self._shown.values()):
            self._ua.emit(_event(peer, "down"))
        self._shown.clear()
        self._services.clear()

    # --- what is known -------------------------------------------------------------------

    def peers(self) -> list[LanPeer]:
        """The phones found on the LAN, by name."""
        return sorted(self._shown.values(), key=lambda p: p.name.casefold())

    def find(self, name: str) -> LanPeer | None:
        """A peer by its instance name or display name (case-insensitive); None when there is none.
        Raises :class:`UserAgentError` when the name fits more than one peer."""
        wanted = clean_name(name).casefold()
        if not wanted:
            return None
        exact = self._shown.get(wanted)
        if exact is not None:
            return exact
        matches = [p for p in self._shown.values() if p.display_name.casefold() == wanted]
        if len(matches) > 1:
            names = ", ".join(sorted(p.name for p in matches))
            raise UserAgentError(f"{name!r} is more than one phone on the LAN ({names}): use the name")
        return matches[0] if matches else None

    def resolve_target(self, text: str) -> str:
        """``text`` as a call or message target: a nearby peer's URI when it names one, else ``text``."""
        if ":" in text or "@" in text:
            return text
        peer = self.find(text)
        return peer.uri if peer is not None else text

    def announced_name(self, aor: str) -> str | None:
        """The instance name ``aor`` is announced under (after a rename), None when it is not announced."""
        announcement = self._announced.get(self._ua.account(aor).aor)
        if announcement is None or not announcement.infos:
            return None
        info = announcement.infos[0]
        return _instance_of(info.name, info.type)

    # --- announcing ----------------------------------------------------------------------

    async def announce(self, account: Account) -> None:
        """Announce ``account`` on the LAN (both transports we listen on); the name used comes as an event."""
        zeroconf = self._zc
        if zeroconf is None or account.aor in self._announced:
            return
        from zeroconf import NonUniqueNameException, ServiceInfo

        requested = _instance_name(account)
        announcement = self._announced[account.aor] = _Announcement(account, requested)
        await asyncio.sleep(max(0.0, self._browsing_since + FIRST_ANSWERS - self._ua.now()))
        if self._announced.get(account.aor) is not announcement or self._zc is None:
            return
        # A name a peer already uses is renamed here the way probing would (RFC 6762 9): Carol, Carol-2 ...
        name, number = requested, 2
        while name.lower() in self._services:
            name, number = f"{requested}-{number}", number + 1
        addresses = self._our_addresses()
        calls = "yes" if account.accepts_direct and not account.busy else "no"
        properties = {
            "txtvers": "1",
            "name": clean_name(account.display_name or account.user),
            "aor": account.aor,
            "calls": calls,
            "id": self._token,
        }
        try:
            for transport, service_type in SERVICE_TYPES.items():
                port = self._port(transport)
                if port is None:
                    continue
                info = ServiceInfo(
                    service_type,
                    f"{name}.{service_type}",
                    port=port,
                    properties=properties,
                    server=self._host,
                    parsed_addresses=addresses,
                    host_ttl=RECORD_TTL,
                    other_ttl=RECORD_TTL,
                )
                # Probing takes a second or two; the SIP loop goes on meanwhile.
                await self._on_zeroconf(zeroconf, zeroconf.async_register_service(info, allow_name_change=True))
                if self._announced.get(account.aor) is not announcement:  # withdrawn meanwhile
                    await self._on_zeroconf(zeroconf, zeroconf.async_unregister_service(info))
                    return
                announcement.infos.append(info)
                self._own.add(info.name.lower())
        except (NonUniqueNameException, OSError, RuntimeError, ValueError, TimeoutError) as exc:
            log.warning("cannot announce %s on the LAN: %s", account.aor, exc)
            self._ua.emit(LanAnnounceEvent(account.aor, requested, requested, "failed", str(exc)))
            return
        name = self.announced_name(account.aor) or name
        if name != requested:
            log.info("%s is announced on the LAN as %r: %r was taken", account.aor, name, requested)
        self._ua.emit(LanAnnounceEvent(account.aor, name, requested, "announced"))

    async def withdraw(self, account: Account) -> None:
        """Stop announcing ``account`` (goodbye packets)."""
        announcement = self._announced.pop(account.aor, None)
        zeroconf = self._zc
        if announcement is None or zeroconf is None:
            return
        for info in announcement.infos:
            with contextlib.suppress(Exception):
                await self._on_zeroconf(zeroconf, zeroconf.async_unregister_service(info))
        first = announcement.infos[0] if announcement.infos else None
        name = _instance_of(first.name, first.type) if first is not None else announcement.requested
        self._ua.emit(LanAnnounceEvent(account.aor, name, announcement.requested, "withdrawn"))

    def _announce_later(self, account: Account) -> None:
        task = self._ua.spawn(self.announce(account), name=f"announce {account.aor}")
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    def _account_added(self, account: Account) -> None:
        if self._zc is None:
            return
        if account.announces_on_lan:
            self._announce_later(account)
        for instance, peer in self._shown.items():  # an edited LAN account watches the peers again
            self._watch(instance, peer)

    async def _account_removed(self, account: Account) -> None:
        for key, (uri, aor) in list(self._watched.items()):
            if aor == account.aor:
                del self._watched[key]
                with contextlib.suppress(Exception):
                    await self._ua.presence.unwatch(uri, aor)
        await self.withdraw(account)

    def _families(self) -> list[int]:
        return [
            version
            for version in (4, 6)
            if self._ua.listening("UDP", version == 6) or self._ua.listening("TCP", version == 6)
        ]

    def _listen_hosts(self) -> list[str] | None:
        """The addresses we listen on, None when one is a wildcard (then mDNS runs on every interface)."""
        hosts = []
        for transport in ("UDP", "TCP"):
            for ipv6 in (False, True):
                bound = self._ua.listening(transport, ipv6)
                if bound is None:
                    continue
                if bound[0] in _WILDCARDS:
                    return None
                hosts.append(bound[0])
        return list(dict.fromkeys(hosts))

    def _port(self, transport: str) -> int | None:
        bound = self._ua.listening(transport) or self._ua.listening(transport, ipv6=True)
        return bound[1] if bound is not None else None

    def _our_addresses(self) -> list[str]:
        """The addresses we listen on; a wildcard is every address of that family (loopback only when there
        is nothing else, link-local IPv6 never: it needs a zone that a record cannot carry)."""
        found: list[str] = []
        for ipv6 in (False, True):
            bound = self._ua.listening("UDP", ipv6) or self._ua.listening("TCP", ipv6)
            if bound is None:
                continue
            host = bound[0]
            if host not in _WILDCARDS:
                found.append(host)
                continue
            version = 6 if ipv6 else 4
            local = [ip for ip in _interface_addresses(version) if _usable(str(ip)) is not None]
            outside = [ip for ip in local if not ip.is_loopback]
            found.extend(str(ip) for ip in (outside or local))
        return list(dict.fromkeys(found))

    # --- browsing ------------------------------------------------------------------------

    def _changed(self, service_type: str, name: str, change: str) -> None:
        """A service appeared, changed or left (on our loop, from zeroconf's thread)."""
        if self._zc is None or self._closing:
            return
        transport = next((t for t, s in SERVICE_TYPES.items() if s == service_type), None)
        if transport is None or name.lower() in self._own:
            return
        key = (transport, name)
        if change == "Removed":
            self._waiting.pop(key, None)
            self._gone(transport, name)
            return
        if key in self._resolving or key in self._waiting:
            return
        instance = _instance_of(name, service_type).lower()
        if instance not in self._services and len(self._services) + len(self._resolving) >= MAX_PEERS:
            self._dropped.note(f"LAN peers ignored: more than {MAX_PEERS}", clean_name(name))
            return
        if len(self._resolving) >= MAX_RESOLVING:
            if len(self._waiting) >= MAX_WAITING:
                self._dropped.note("LAN services ignored: too many waiting to be resolved", clean_name(name))
                return
            self._waiting[key] = None
            return
        self._resolve(key)

    def _resolve(self, key: tuple[str, str]) -> None:
        task = self._ua.spawn(self._resolve_one(*key), name="resolve a LAN peer")
        self._resolving[key] = task
        task.add_done_callback(lambda _: self._resolved(key))

    def _resolved(self, key: tuple[str, str]) -> None:
        self._resolving.pop(key, None)
        transport, name = key
        instance = _instance_of(name, SERVICE_TYPES[transport]).lower()
        if transport == "UDP" and instance in self._services and instance not in self._shown and not self._closing:
            self._show(instance)  # the UDP service did not resolve: the TCP one held back is shown now
        while self._waiting and len(self._resolving) < MAX_RESOLVING and not self._closing:
            next_key = next(iter(self._waiting))
            del self._waiting[next_key]
            self._resolve(next_key)

    async def _resolve_one(self, transport: str, name: str) -> None:
        zeroconf = self._zc
        if zeroconf is None:
            return
        from zeroconf.asyncio import AsyncServiceInfo

        service_type = SERVICE_TYPES[transport]
        try:
            info = AsyncServiceInfo(service_type, name)  # refuses names with control characters
            found = await self._on_zeroconf(zeroconf, info.async_request(zeroconf, RESOLVE_TIMEOUT_MS))
        except Exception as exc:  # a record zeroconf cannot take is a stranger's problem, not ours
            self._dropped.note(f"LAN service not resolved ({exc or type(exc).__name__})", clean_name(name))
            return
        if not found or self._zc is None:
            return
        txt = info.text or b""
        if b"id=" + self._token.encode() in txt:
            self._own.add(name.lower())  # ours under a name we did not know yet (a rename still settling)
            return
        try:
            peer = peer_from_record(
                _instance_of(name, service_type),
                transport,
                info.port or 0,
                info.parsed_scoped_addresses(),
                txt,
                families=self._families(),
            )
        except LanRecordError as exc:
            self._dropped.note(f"LAN service ignored: {exc}", clean_name(name))
            return
        instance = _instance_of(name, service_type).lower()
        services = self._services.get(instance)
        if services is None:
            if len(self._services) >= MAX_PEERS:
                self._dropped.note(f"LAN peers ignored: more than {MAX_PEERS}", peer.name)
                return
            services = self._services[instance] = {}
        services[transport] = peer
        self._show(instance)

    def _gone(self, transport: str, name: str) -> None:
        instance = _instance_of(name, SERVICE_TYPES[transport]).lower()
        services = self._services.get(instance)
        if services is None:
            return
        services.pop(transport, None)
        if not services:
            del self._services[instance]
        self._show(instance)

    def _show(self, instance: str) -> None:
        """Report the peer ``instance`` as it now is: UDP preferred, ``down`` when nothing is left of it."""
        services = self._services.get(instance, {})
        peer = services.get("UDP") or services.get("TCP")
        before = self._shown.get(instance)
        if peer is not None and peer.transport == "TCP" and before is None and self._udp_pending(instance):
            return  # its UDP service is being resolved too: show the peer once, with that

        if peer == before:
            return
        if peer is None:
            assert before is not None
            del self._shown[instance]
            self._unwatch(instance)
            self._ua.emit(_event(before, "down"))
            return
        if before is not None and before.uri != peer.uri:
            self._unwatch(instance)
        self._shown[instance] = peer
        self._ua.emit(_event(peer, "up"))
        self._watch(instance, peer)

    def _udp_pending(self, instance: str) -> bool:
        return any(
            transport == "UDP" and _instance_of(name, SERVICE_TYPES["UDP"]).lower() == instance
            for transport, name in (*self._resolving, *self._waiting)
        )

    def _lan_account(self) -> Account | None:
        """The account nearby peers are watched, called and written with: the first peer-to-peer one."""
        return next((a for a in self._ua.accounts if not a.has_server), None)

    def _watch(self, instance: str, peer: LanPeer) -> None:
        account = self._lan_account()
        if account is None or instance in self._watched:
            return
        try:
            self._ua.presence.watch(peer.uri, account.aor)
        except (ValueError, UserAgentError) as exc:
            log.info("cannot watch LAN peer %r: %s", peer.name, exc)
            return
        self._watched[instance] = (peer.uri, account.aor)

    def _unwatch(self, instance: str) -> None:
        watched = self._watched.pop(instance, None)
        if watched is not None and not self._closing:
            self._ua.spawn(self._ua.presence.unwatch(*watched), name="unwatch a LAN peer")

    # --- zeroconf's loop -----------------------------------------------------------------

    async def _on_zeroconf(self, zeroconf: Zeroconf, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on zeroconf's own loop and wait for it here."""
        loop = zeroconf.loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("zeroconf is not running")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        result = await asyncio.wrap_future(future)
        # async_register_service gives back a task of the announcements, on zeroconf's loop: wait for it there.
        if isinstance(result, asyncio.Future):

            async def wait(task: asyncio.Future[Any]) -> None:
                await task

            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wait(result), loop))
        return result


def _event(peer: LanPeer, state: PeerState) -> LanPeerEvent:
    return LanPeerEvent(
        name=peer.name,
        uri=peer.uri,
        state=state,
        display_name=peer.display_name,
        aor=peer.aor,
        accepts_calls=peer.accepts_calls,
    )


def _interface_addresses(version: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    import ifaddr

    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if version == 4 and ip.is_IPv4:
                found.append(ipaddress.IPv4Address(str(ip.ip)))
            elif version == 6 and ip.is_IPv6:
                found.append(ipaddress.IPv6Address(str(ip.ip[0])))
    return found


def _open_zeroconf(families: list[int], hosts: list[str] | None) -> Zeroconf:
    """A Zeroconf on its own thread and loop: on the interfaces of ``hosts`` (the addresses we listen on), or
    on every interface of the IP versions we listen on when ``hosts`` is None (a wildcard). A phone that
    listens on 127.0.0.1 keeps its mDNS on loopback too."""
    from zeroconf import InterfaceChoice, IPVersion, Zeroconf

    if 4 in families and 6 in families:
        version = IPVersion.All
    else:
        version = IPVersion.V4Only if 4 in families else IPVersion.V6Only
    if hosts is None:
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=version, use_asyncio=False)
    return Zeroconf(interfaces=list(hosts), ip_version=version, use_asyncio=False)
