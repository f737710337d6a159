"""Multicast paging for the user agent: which page is heard, what happens to calls, and sending pages.

``ua.paging`` (a :class:`Pager`) listens on the groups of its
:class:`PagingConfig`, each with a priority and optionally an allow-list of
senders, through one :class:`~softphone.media.paging.PageReceiver` per group.
One page is heard at a time: a page starts only when nothing of the same or
higher priority is playing, and preempts a page of lower priority (which ends
with ``preempted``; its sender is ignored until it stops). Do-not-disturb
(``ua.busy``, or every account busy) hears no pages. A page arriving during
a call holds the calls that are up until the page ends (``during_call``
``hold``), or is mixed into what the first call up plays (``mix``; the
peer does not hear it). Pages play and record through the UA's media
factory, as calls do, under the page's id (``p1`` ...).
:meth:`Pager.page` sends one page at a time with the same factory's source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from softphone.media.engine import MediaSession
from softphone.media.errors import MediaError
from softphone.media.paging import (
    PAGING_CODECS,
    Output,
    PageCodec,
    PageEnded,
    PageMix,
    PageReceiver,
    PageReport,
    PageSender,
    PageStarted,
    group_address,
)
from softphone.media.sources import AudioSource, NullSink, SilenceSource
from softphone.store.settings import PagingSettings
from softphone.ua.errors import UserAgentError
from softphone.ua.events import ErrorEvent, PageEndedEvent, PageStartedEvent
from softphone.ua.media import CallAudio

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent

__all__ = [
    "DEFAULT_PRIORITY",
    "DuringCall",
    "PageGroup",
    "Pager",
    "PagingConfig",
    "config_from",
    "parse_group",
    "parse_listen",
]

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = 10
MAX_PRIORITY = 255
MAX_SOURCES = 64
DuringCall = Literal["hold", "mix"]


@dataclass(frozen=True)
class PageGroup:
    """A group to listen on: ``address``:``port``, its ``priority`` (higher wins), the senders it takes from.

    ``sources`` empty: anyone on the LAN; ``codecs`` are names of :data:`PAGING_CODECS`.
    """

    address: str
    port: int
    priority: int = DEFAULT_PRIORITY
    sources: tuple[str, ...] = ()
    codecs: tuple[str, ...] = tuple(PAGING_CODECS)

    @property
    def label(self) -> str:
        return _label(self.address, self.port)


@dataclass(frozen=True)
class PagingConfig:
    """Paging settings: groups listened on, the TTL and interface of pages sent, and calls during a page."""

    listen: tuple[PageGroup, ...] = ()
    ttl: int = 1
    interface: str | None = None
    during_call: DuringCall = "hold"
    codec: str = "g722"


def _label(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def parse_group(text: str) -> tuple[str, int]:
    """``GROUP:PORT`` (``239.1.1.1:5004``, ``[ff05::1]:5004``) as a multicast address and a port."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"a paging group is GROUP:PORT, not {text!r}")
    try:
        port = int(port_text)
        ip = group_address(host)
    except MediaError as exc:
        raise ValueError(f"bad paging group {text!r}: {exc}") from None
    except ValueError:
        raise ValueError(f"bad port in paging group {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in paging group {text!r}")
    return str(ip), port


def parse_listen(text: str) -> PageGroup:
    """``GROUP:PORT[/PRIORITY][=SOURCE,...][+CODEC,...]``: a group to listen on, its priority (higher wins),
    the senders allowed (default anyone) and the codecs taken (default all of :data:`PAGING_CODECS`)."""
    text, plus, codecs_text = text.partition("+")
    spec, _, sources_text = text.partition("=")
    spec, slash, priority_text = spec.rpartition("/") if "/" in spec else (spec, "", "")
    address, port = parse_group(spec)
    priority = DEFAULT_PRIORITY
    if slash:
        try:
            priority = int(priority_text)
        except ValueError:
            raise ValueError(f"bad priority in {text!r}: {priority_text!r} is not a number") from None
        if not 1 <= priority <= MAX_PRIORITY:
            raise ValueError(f"priority out of range (1-{MAX_PRIORITY}) in {text!r}")
    sources = tuple(s.strip() for s in sources_text.split(",") if s.strip())
    codecs = check_codecs([c for c in codecs_text.split(",") if c.strip()]) if plus else tuple(PAGING_CODECS)
    return PageGroup(address, port, priority, check_sources(sources), codecs)


def check_codecs(names: Sequence[str]) -> tuple[str, ...]:
    """Codec names of :data:`PAGING_CODECS` (any case), or ValueError naming the one that is not."""
    codecs = tuple(dict.fromkeys(page_codec(name).name.lower() for name in names))
    if not codecs:
        raise ValueError("a paging group needs at least one codec")
    return codecs


def config_from(settings: PagingSettings) -> tuple[PagingConfig, list[str]]:
    """The :class:`PagingConfig` of saved settings, and a problem in words for each entry left out."""
    groups: list[PageGroup] = []
    problems: list[str] = []
    for entry in settings.listen:
        if not entry.enabled:
            continue
        try:
            address, port = parse_group(entry.group)
            if not 1 <= entry.priority <= MAX_PRIORITY:
                raise ValueError(f"priority {entry.priority} is out of range (1-{MAX_PRIORITY})")
            codecs = check_codecs(entry.codecs) if entry.codecs else tuple(PAGING_CODECS)
            groups.append(PageGroup(address, port, entry.priority, check_sources(entry.sources), codecs))
        except ValueError as exc:
            problems.append(f"paging group {entry.group!r} left out: {exc}")
    ttl = settings.ttl if 0 <= settings.ttl <= 255 else 1
    during: DuringCall = "mix" if settings.during_call == "mix" else "hold"
    codec = settings.codec.lower() if settings.codec.lower() in PAGING_CODECS else "g722"
    return PagingConfig(tuple(groups), ttl, settings.interface or None, during, codec), problems


def check_sources(sources: Sequence[str]) -> tuple[str, ...]:
    """Sender addresses as IP addresses, or ValueError naming the one that is not."""
    if len(sources) > MAX_SOURCES:
        raise ValueError(f"at most {MAX_SOURCES} senders per paging group")
    checked = []
    for source in sources:
        try:
            checked.append(str(ipaddress.ip_address(source.strip("[]"))))
        except ValueError:
            raise ValueError(f"{source!r} is not an IP address") from None
    return tuple(checked)


def page_codec(name: str) -> PageCodec:
    codec = PAGING_CODECS.get(name.strip().lower())
    if codec is None:
        raise ValueError(f"unknown paging codec {name!r}; known: {', '.join(PAGING_CODECS)}")
    return codec


@dataclass
class _Page:
    id: str
    group: PageGroup
    receiver: PageReceiver
    number: int
    source: str
    codec: str
    heard: bool = False


@dataclass
class _Sending:
    id: str
    label: str
    codec: str
    sender: PageSender
    audio: CallAudio | None


@dataclass
class Pager:
    """Paging in and out for one :class:`~softphone.ua.agent.UserAgent`; see the module documentation."""

    ua: UserAgent
    config: PagingConfig = field(default_factory=PagingConfig)
    _receivers: dict[PageGroup, PageReceiver] = field(default_factory=dict)
    _pages: dict[tuple[PageReceiver, int], _Page] = field(default_factory=dict)
    _playing: _Page | None = None
    _held: list[str] = field(default_factory=list)
    _sending: _Sending | None = None
    _count: int = 0

    def __post_init__(self) -> None:
        self.ua.add_closer(self.stop)

    # --- listening -----------------------------------------------------------------------------

    @property
    def listening(self) -> list[PageGroup]:
        return list(self._receivers)

    def dropped(self) -> dict[str, dict[str, int]]:
        """Refused datagrams per group and reason."""
        return {group.label: rx.dropped() for group, rx in self._receivers.items()}

    async def start(self, config: PagingConfig | None = None) -> None:
        """Listen on the groups of ``config`` (the current one by default), replacing any earlier listeners.

        A group that cannot be joined is reported as an ``error`` event; the others still listen.
        """
        if config is not None:
            if config.listen == self.config.listen and config.interface == self.config.interface and self._receivers:
                self.config = config  # the same groups: the pages being heard go on
                return
            self.config = config
        await self._stop_receivers()
        loop = asyncio.get_running_loop()
        for group in self.config.listen:
            if group in self._receivers:
                continue
            try:
                codecs = [page_codec(name) for name in group.codecs]
                receiver = PageReceiver(
                    group.address,
                    group.port,
                    codecs,
                    self._reporter(group, loop),
                    sources=group.sources,
                    interface=self.config.interface,
                )
            except (MediaError, ValueError) as exc:
                self.ua.emit(ErrorEvent(f"Cannot listen for pages on {group.label}: {exc}."))
                continue
            self._receivers[group] = receiver
            receiver.start()

    def _reporter(self, group: PageGroup, loop: asyncio.AbstractEventLoop) -> Callable[[PageReport], None]:
        def report(item: PageReport) -> None:
            try:
                loop.call_soon_threadsafe(self._on_report, group, item)
            except RuntimeError:
                pass  # the loop has closed: nothing is listening any more

        return report

    async def _stop_receivers(self) -> None:
        receivers = list(self._receivers.values())
        self._receivers.clear()
        if receivers:
            await asyncio.gather(*(asyncio.to_thread(rx.stop) for rx in receivers))
        pages, self._pages = self._pages, {}
        for page in pages.values():
            if page.heard:
                self._ended(page, "closed")

    async def stop(self) -> None:
        """Stop listening and end our page."""
        await self.end_page()
        await self._stop_receivers()

    def _dnd(self) -> bool:
        accounts = list(self.ua.accounts)
        return self.ua.busy or (bool(accounts) and all(a.busy for a in accounts))

    def _on_report(self, group: PageGroup, item: PageReport) -> None:
        receiver = self._receivers.get(group)
        if receiver is None:
            return
        if isinstance(item, PageStarted):
            self._count += 1
            page = _Page(f"p{self._count}", group, receiver, item.number, item.source, item.codec)
            self._pages[(receiver, item.number)] = page
            self._arrived(page)
        elif isinstance(item, PageEnded):
            ended = self._pages.pop((receiver, item.number), None)
            if ended is not None and ended.heard:
                self._ended(ended, "stopped")

    def _arrived(self, page: _Page) -> None:
        playing = self._playing
        if self._dnd():
            log.info("page on %s from %s not played: do not disturb", page.group.label, page.source)
        elif playing is None:
            self._play(page)
            return
        elif page.group.priority > playing.group.priority:
            playing.receiver.suppress(playing.number)
            self._ended(playing, "preempted", resume=False)
            self._play(page)
            return
        else:
            log.info("page on %s from %s not played: %s is playing", page.group.label, page.source, playing.id)
        page.receiver.suppress(page.number)

    def _play(self, page: _Page) -> None:
        page.heard = True
        self._playing = page
        mixed = self._mix_into_call() if self.config.during_call == "mix" else None
        page.receiver.play(page.number, mixed or (lambda: self._open_output(page.id)))
        self.ua.emit(
            PageStartedEvent(
                page.id, page.group.label, page.source, page.codec, "incoming", priority=page.group.priority
            )
        )
        if self.config.during_call == "hold":
            up = [c.id for c in self.ua.calls if c.state == "confirmed" and c.id not in self._held]
            self._held.extend(up)
            for call_id in up:
                self.ua.spawn(self._hold(call_id, True), name=f"page-hold-{call_id}")

    def _ended(self, page: _Page, reason: str, *, resume: bool = True) -> None:
        page.heard = False
        if self._playing is page:
            self._playing = None
        self.ua.emit(PageEndedEvent(page.id, page.group.label, page.source, page.codec, "incoming", reason))
        if resume and self._playing is None:
            held, self._held = self._held, []
            for call_id in held:
                self.ua.spawn(self._hold(call_id, False), name=f"page-resume-{call_id}")

    async def _hold(self, call_id: str, hold: bool) -> None:
        try:
            if hold:
                await self.ua.hold(call_id)
            else:
                await self.ua.resume(call_id)
        except UserAgentError as exc:
            log.info("page: %s of %s: %s", "hold" if hold else "resume", call_id, exc)

    def _mix_into_call(self) -> Callable[[], Output] | None:
        """An opener that plays the page into the output of the first call up (not in a conference), if any."""
        media = self.ua.call_manager.media
        for call in self.ua.calls:
            session = call.media_session
            if call.state != "confirmed" or session is None or media.in_conference(call):
                continue
            return _mix_opener(session)
        return None

    def _open_output(self, page_id: str) -> Output:
        """The page's sink from the media factory (called on the receiver's thread)."""
        audio = self._audio(page_id)
        if audio is None:
            return NullSink(), lambda: None
        return audio.sink, audio.close

    def _audio(self, page_id: str) -> CallAudio | None:
        factory = self.ua.media
        if factory is None:
            return None
        made = factory(page_id, lambda message: log.warning("page %s: %s", page_id, message))
        if made is None or isinstance(made, CallAudio):
            return made
        return CallAudio(*made)

    # --- sending -------------------------------------------------------------------------------

    @property
    def sending(self) -> str | None:
        """The id of the page we are sending, if any."""
        return None if self._sending is None else self._sending.id

    async def page(self, target: str, codec: str | None = None) -> str:
        """Start paging ``target`` (``GROUP:PORT``) in ``codec`` (default the config's); returns the page's id."""
        if self._sending is not None:
            raise UserAgentError(f"already paging {self._sending.label} ({self._sending.id}); end that page first")
        try:
            address, port = parse_group(target)
            chosen = page_codec(codec or self.config.codec)
        except ValueError as exc:
            raise UserAgentError(str(exc)) from None
        self._count += 1
        page_id = f"p{self._count}"
        audio = await asyncio.to_thread(self._audio, page_id)
        source: AudioSource = SilenceSource() if audio is None else audio.source
        try:
            sender = PageSender(address, port, chosen, source, ttl=self.config.ttl, interface=self.config.interface)
        except (MediaError, OSError) as exc:
            if audio is not None:
                audio.close()
            raise UserAgentError(f"Cannot page {_label(address, port)}: {exc}.") from None
        sender.start()
        self._sending = _Sending(page_id, _label(address, port), chosen.name, sender, audio)
        self.ua.emit(PageStartedEvent(page_id, self._sending.label, "", chosen.name, "outgoing"))
        return page_id

    async def end_page(self) -> bool:
        """Stop sending our page; False when none was being sent."""
        sending, self._sending = self._sending, None
        if sending is None:
            return False
        await asyncio.to_thread(sending.sender.stop)
        if sending.audio is not None:
            await asyncio.to_thread(sending.audio.close)
        self.ua.emit(PageEndedEvent(sending.id, sending.label, "", sending.codec, "outgoing"))
        return True


def _mix_opener(session: MediaSession) -> Callable[[], Output]:
    """Swaps ``session``'s sink for a :class:`PageMix` when the page starts playing, and back at its end."""
    source, sink = session.audio
    mix = PageMix(sink)

    def opener() -> Output:
        session.set_audio(source, mix)

        def close() -> None:
            if session.audio[1] is mix:  # a conference may have taken the call's audio meanwhile
                session.set_audio(source, sink)

        return mix.page, close

    return opener
