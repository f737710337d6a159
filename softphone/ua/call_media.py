"""The media of calls: sessions started, updated and stopped as the call machines ask, recording,
mute, levels and the local conference.

Media sessions run on threads of their own; what they report reaches the UA
loop through ``call_soon_threadsafe``. Opening devices and joining threads
happen in the loop's executor, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from softphone.media.conference import ConferenceMixer
from softphone.media.dtls import DtlsIdentity
from softphone.media.engine import (
    DtmfReceived,
    EncryptionFailed,
    EncryptionReady,
    MediaEvent,
    MediaFailure,
    MediaSession,
    NullSink,
    OneWayAudio,
    RemoteBye,
    SilenceSource,
)
from softphone.media.errors import MediaError
from softphone.media.events import IceConnected, IceFailure
from softphone.media.keepalive import DEFAULT_INTERVAL
from softphone.media.paging import multicast_socket
from softphone.media.processing import ProcessingStats
from softphone.media.quality import QualitySnapshot
from softphone.media.recorder import CallRecorder
from softphone.ua.call import Call
from softphone.ua.call_effects import StartMedia, UpdateMedia
from softphone.ua.call_video import CallVideo, VideoSettings, shown_address
from softphone.ua.errors import UserAgentError
from softphone.ua.events import (
    ConferenceEvent,
    DtmfEvent,
    ErrorEvent,
    Event,
    MediaPathEvent,
    MediaWarningEvent,
    MediaWarningKind,
    QualityEvent,
    RecordingEvent,
)
from softphone.ua.media import CallAudio, MediaFactory

__all__ = ["CallMedia"]

log = logging.getLogger("softphone.ua")


class CallMedia:
    """Carries out StartMedia/UpdateMedia/StopMedia for the calls of one user agent.

    ``factory()`` is what gives each call its audio (None: signalling only, no media sessions);
    the user may change it between calls.
    ``on_remote_bye(call)`` runs on the loop when a peer's RTP stream said goodbye.
    """

    def __init__(
        self,
        factory: Callable[[], MediaFactory | None],
        loop: Callable[[], asyncio.AbstractEventLoop],
        emit: Callable[[Event], None],
        spawn: Callable[..., Any],
        on_remote_bye: Callable[[Call], None],
        on_encryption: Callable[[Call, EncryptionReady | EncryptionFailed], None] | None = None,
        video: Callable[[], VideoSettings | None] | None = None,
    ) -> None:
        self.factory = factory
        # The calls' video sessions, beside their audio.
        self.video = CallVideo(
            video or (lambda: None), loop, emit, identity=lambda: self.identity() if self.identity is not None else None
        )
        self._on_encryption = on_encryption
        # This installation's DTLS certificate, for calls whose media is keyed by DTLS-SRTP.
        self.identity: Callable[[], DtlsIdentity] | None = None
        # How long a DTLS handshake may take before the call fails.
        self.dtls_timeout = 10.0
        # RFC 6263: how long a media port behind a NAT may stay quiet before a keep-alive goes out.
        self.keepalive_interval = DEFAULT_INTERVAL
        self._loop = loop
        self._emit = emit
        self._spawn = spawn
        self._on_remote_bye = on_remote_bye
        self._stops: set[asyncio.Future[None]] = set()
        # What each call's machine last asked for; applied when its session is running.
        self._wanted: dict[int, StartMedia | UpdateMedia] = {}
        # Calls whose session only listens: early media of the callee, before the answer.
        self._receive_only: set[int] = set()
        # The local conference: its mixer, the shared microphone/speaker and its calls.
        self._mixer: ConferenceMixer | None = None
        self._conference_audio: CallAudio | None = None
        self._conference_calls: list[Call] = []

    # --- what the machines ask ------------------------------------------------------------

    def apply(self, call: Call, wanted: StartMedia | UpdateMedia) -> None:
        """Start the call's media session, or give it what the latest offer/answer agreed."""
        self._wanted[id(call)] = wanted
        if self.factory() is None or call.ended:
            return
        self.video.apply(call, wanted.video, answered=wanted.answered, hold=wanted.hold)
        session = call.media_session
        if session is None:
            if not call.media_tried:
                call.media_tried = True
                self._spawn(self._start(call), name=f"media {call.id}")
            return
        if wanted.media is not call.media_applied:
            try:
                session.update(wanted.media, wanted.crypto)
            except MediaError as exc:
                self.warning(call, "media_failure", f"cannot apply the new media parameters: {exc}")
            call.media_applied = wanted.media
        if wanted.answered and not session.answered:
            session.set_answered()
        if not wanted.send:
            session.set_direction(_receive_only(wanted.media.direction))
            self._receive_only.add(id(call))
        elif id(call) in self._receive_only:
            self._receive_only.discard(id(call))
            session.set_direction(wanted.media.direction)
        if wanted.hold:
            session.hold()
        else:
            session.resume()

    def stop(self, call: Call) -> None:
        """Stop the call's media off the loop (the thread join and RTCP BYE can take a while)."""
        self._wanted.pop(id(call), None)
        self._receive_only.discard(id(call))
        if call in self._conference_calls:
            self._leave_conference(call, ended=True)
        video = self.video.stop(call)
        if video is not None:
            self._stops.add(video)
            video.add_done_callback(self._stopped)
        session, audio, pending = call.media_session, call.audio, call.pending_recorder
        call.media_session = None
        call.audio = None
        call.pending_recorder = None
        if session is None and audio is None and pending is None:
            return
        loop = self._loop()

        def stop() -> None:
            recorder = pending
            if session is not None:
                session.stop(timeout=1.0)
                recorder = session.stop_recording() or recorder
            if recorder is not None:
                recorder.close()
                event = RecordingEvent(call.id, str(recorder.path), False, recorder.seconds, recorder.error)
                with contextlib.suppress(RuntimeError):  # the loop is closed: the UA is gone
                    loop.call_soon_threadsafe(self._emit, event)
            if audio is not None:
                _close_audio(audio)

        future = loop.run_in_executor(None, stop)
        self._stops.add(future)
        future.add_done_callback(self._stopped)

    def _stopped(self, future: asyncio.Future[None]) -> None:
        self._stops.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("stopping a media session failed: %s", future.exception())

    async def wait_stopped(self) -> None:
        """Wait until the media of ended calls is stopped (recordings closed)."""
        while self._stops:
            await asyncio.gather(*list(self._stops), return_exceptions=True)

    def warning(self, call: Call, kind: MediaWarningKind, message: str) -> None:
        self._emit(MediaWarningEvent(call.id, kind, message))

    async def _start(self, call: Call) -> None:
        factory = self.factory()
        if factory is None:
            return
        loop = self._loop()

        def post(event: Event) -> None:
            # Runs on the loop: what comes after the call ended (a stopping session) is dropped.
            if not call.ended:
                if isinstance(event, QualityEvent):
                    event = dataclasses.replace(event, encryption=call.machine.encryption)
                    call.quality.add(event)
                self._emit(event)

        def from_thread(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the UA is gone
                loop.call_soon_threadsafe(post, event)

        def warn(message: str) -> None:
            from_thread(MediaWarningEvent(call.id, "device", message))
            from_thread(ErrorEvent(f"call {call.id}: {message}"))

        def on_quality(snapshot: QualitySnapshot) -> None:
            processing = self._processing(call)
            event = QualityEvent(call.id, **dataclasses.asdict(snapshot))
            if processing is not None:
                event = dataclasses.replace(event, erle_db=processing.erle_db, echo_delay_ms=processing.echo_delay_ms)
            from_thread(event)

        def encryption(event: EncryptionReady | EncryptionFailed) -> None:
            if self._on_encryption is not None and not call.ended:
                self._on_encryption(call, event)

        def on_event(event: MediaEvent) -> None:
            if isinstance(event, DtmfReceived):
                from_thread(DtmfEvent(call.id, event.digit, "rtp"))
            elif isinstance(event, OneWayAudio):
                message = (
                    f"no audio received for {event.silent_for:.1f} s; {one_way_hint(call)}"
                    if event.active
                    else "audio is received again"
                )
                from_thread(MediaWarningEvent(call.id, "one_way_audio", message, event.active))
            elif isinstance(event, IceConnected):
                local, remote = shown_address(event.local), shown_address(event.remote)
                from_thread(MediaPathEvent(call.id, event.kind, local, remote))
            elif isinstance(event, IceFailure):
                from_thread(MediaWarningEvent(call.id, "ice", f"no media path: {event.reason}; {one_way_hint(call)}"))
            elif isinstance(event, MediaFailure):
                from_thread(MediaWarningEvent(call.id, "media_failure", event.message))
            elif isinstance(event, RemoteBye):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._on_remote_bye, call)
            elif isinstance(event, EncryptionReady | EncryptionFailed):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(encryption, event)

        # Off the loop: opening an audio device can take a while.
        pending = loop.run_in_executor(None, factory, call.id, warn)
        try:
            made = await asyncio.shield(pending)
        except asyncio.CancelledError:
            pending.add_done_callback(_close_unused_audio)  # the UA is closing: don't leak what was opened
            raise
        except Exception as exc:
            log.warning("call %s: no audio: %s", call.id, exc)
            if not call.ended:
                self.warning(call, "device", f"no audio: {exc}")
                self._emit(ErrorEvent(f"call {call.id}: no audio: {exc}"))
            return
        if made is None:
            return
        audio = made if isinstance(made, CallAudio) else CallAudio(*made)
        sock = call.media_port.socket
        wanted = self._wanted.get(id(call))
        if call.ended or wanted is None or sock is None:
            _close_audio(audio)  # the call ended meanwhile
            return
        if wanted.media.multicast:
            # The offer named a group: its RTP arrives there, not at our port, and we never send.
            try:
                sock = await loop.run_in_executor(
                    None, multicast_socket, wanted.media.remote_address, wanted.media.remote_port
                )
            except MediaError as exc:
                self.warning(call, "media_failure", f"media did not start: {exc}")
                _close_audio(audio)
                return
            if call.ended:
                sock.close()
                _close_audio(audio)
                return
            call.media_port.close()
        call.audio = audio
        try:
            crypto = wanted.crypto
            identity = (
                self.identity() if crypto is not None and crypto.key_exchange == "dtls" and self.identity else None
            )
            session = MediaSession(
                sock,
                wanted.media,
                audio.source,
                audio.sink,
                on_quality=on_quality,
                on_event=on_event,
                answered=wanted.answered,
                crypto=crypto,
                dtls_identity=identity,
                dtls_timeout=self.dtls_timeout,
                keepalive=self.keepalive_interval if call.reflexive else None,
            )
            call.media_port.socket = None  # the session owns (and closes) the socket from now on
            if not wanted.send:
                session.set_direction(_receive_only(wanted.media.direction))
                self._receive_only.add(id(call))
            session.start()
        except Exception as exc:
            log.warning("call %s: media session failed to start: %s", call.id, exc)
            self.warning(call, "media_failure", f"media did not start: {exc}")
            call.audio = None
            _close_audio(audio)
            if wanted.crypto is not None and self._on_encryption is not None:
                # An encrypted call without its protected media is not carried on in any other way.
                self._on_encryption(call, EncryptionFailed(str(exc)))
            return
        call.media_session = session
        call.media_applied = wanted.media
        if call.pending_recorder is not None:
            session.start_recording(call.pending_recorder)
            call.pending_recorder = None
        if call.muted:
            session.set_muted(True)
        self.apply(call, self._wanted.get(id(call), wanted))  # a re-INVITE or hold may have come meanwhile

    # --- user commands -------------------------------------------------------------------

    def set_mute(self, call: Call, muted: bool) -> None:
        call.muted = muted
        if call.media_session is not None:
            call.media_session.set_muted(muted)

    def levels(self, call: Call) -> tuple[float, float] | None:
        if call in self._conference_calls and self._conference_audio is not None:
            return self._conference_audio.levels()
        return call.audio.levels() if call.audio is not None else None

    def _processing(self, call: Call) -> ProcessingStats | None:
        """The microphone processing's figures of the audio the call uses (the conference's when mixed)."""
        audio = self._conference_audio if call in self._conference_calls else call.audio
        return None if audio is None else audio.processing()

    async def record(self, call: Call, path: str | Path) -> Path:
        if self.factory() is None or call.media is None or not call.confirmed:
            raise UserAgentError(f"call {call.id} has no audio to record")
        loop = self._loop()
        try:
            recorder = await loop.run_in_executor(None, CallRecorder, Path(path))
        except MediaError as exc:
            raise UserAgentError(f"cannot record call {call.id}: {exc}") from exc
        if call.ended:
            await loop.run_in_executor(None, recorder.close)
            raise UserAgentError(f"call {call.id} ended before the recording started")
        previous = _take_recorder(call)
        if call.media_session is not None:
            call.media_session.start_recording(recorder)
        else:
            call.pending_recorder = recorder  # the media session is starting: it takes it over
        if previous is not None:
            await self._finish_recording(call, previous)
        self._emit(RecordingEvent(call.id, str(recorder.path), True))
        return recorder.path

    async def stop_recording(self, call: Call) -> None:
        recorder = _take_recorder(call)
        if recorder is None:
            raise UserAgentError(f"call {call.id} is not being recorded")
        await self._finish_recording(call, recorder)

    async def _finish_recording(self, call: Call, recorder: CallRecorder) -> None:
        await self._loop().run_in_executor(None, recorder.close)
        self._emit(RecordingEvent(call.id, str(recorder.path), False, recorder.seconds, recorder.error))

    # --- the local conference ---------------------------------------------------------------

    @property
    def conference_calls(self) -> list[str]:
        return [c.id for c in self._conference_calls]

    def in_conference(self, call: Call) -> bool:
        return call in self._conference_calls

    @property
    def conference_mixer(self) -> ConferenceMixer | None:
        """The running conference's mixer (its ``underruns``/``overruns`` counters), None without one."""
        return self._mixer

    async def conference(self, calls: Sequence[Call]) -> None:
        """Mix established calls (held ones resumed by the caller first) into the local conference."""
        if len(calls) + len([c for c in self._conference_calls if c not in calls]) < 2:
            raise UserAgentError("a conference needs two calls or more")
        if self.factory() is None:
            raise UserAgentError("no media: calls cannot be mixed")
        for _ in range(100):  # a call confirmed a moment ago is still opening its audio (bounded: 2 s)
            if all(c.media_session is not None or c.ended for c in calls):
                break
            await asyncio.sleep(0.02)
        for call in calls:
            if call.ended or call.media_session is None:
                raise UserAgentError(f"call {call.id} has no media to mix")
        if self._mixer is None:
            shared = calls[0].audio or CallAudio(SilenceSource(), NullSink())
            calls[0].audio = None
            self._conference_audio = shared
            self._mixer = ConferenceMixer(shared.source, shared.sink)
        closing: list[tuple[threading.Event, CallAudio]] = []
        for call in calls:
            if call in self._conference_calls or call.media_session is None:
                continue
            member = self._mixer.add(call.id)
            applied = call.media_session.set_audio(member, member)
            if call.audio is not None:
                closing.append((applied, call.audio))
                call.audio = None
            self._conference_calls.append(call)
        if closing:
            await self._loop().run_in_executor(None, _close_after_swap, closing)
        self._emit(ConferenceEvent(self.conference_calls, True))

    def split(self, call: Call) -> None:
        if call not in self._conference_calls:
            raise UserAgentError(f"call {call.id} is not in a conference")
        self._leave_conference(call, ended=False)

    def _leave_conference(self, call: Call, *, ended: bool) -> None:
        mixer, shared = self._mixer, self._conference_audio
        if mixer is None or shared is None:
            return
        self._conference_calls.remove(call)
        mixer.remove(call.id)
        if not ended and call.media_session is not None:
            call.media_session.set_audio(SilenceSource(), NullSink())
        if len(self._conference_calls) > 1:
            self._emit(ConferenceEvent(self.conference_calls, True))
            return
        # One call left (or none): it takes the microphone and speaker back.
        left = self._conference_calls
        self._mixer = None
        self._conference_audio = None
        self._conference_calls = []
        last = left[0] if left else None
        if last is not None and last.media_session is not None and not last.ended:
            last.media_session.set_audio(shared.source, shared.sink)
            last.audio = shared
        else:
            self._loop().run_in_executor(None, _close_audio, shared)
        self._emit(ConferenceEvent([c.id for c in left], False))


def one_way_hint(call: Call) -> str:
    """What to check when audio does not arrive, for the warning's words."""
    account = call.account
    if account.turn_server is not None:
        return "check that the TURN server lets this call through, and the firewall on both sides"
    if account.stun_server is not None:
        return "a NAT that maps each destination anew needs a TURN server in the account's settings"
    return "behind a NAT, set a STUN server (or TURN, for strict NATs) in the account's settings"


def _receive_only(direction: str) -> str:
    return "recvonly" if direction in ("sendrecv", "recvonly") else "inactive"


def _take_recorder(call: Call) -> CallRecorder | None:
    recorder, call.pending_recorder = call.pending_recorder, None
    if call.media_session is not None:
        recorder = call.media_session.stop_recording() or recorder
    return recorder


def _close_after_swap(closing: list[tuple[threading.Event, CallAudio]]) -> None:
    for applied, audio in closing:
        applied.wait(1.0)
        _close_audio(audio)


def _close_audio(audio: CallAudio) -> None:
    try:
        audio.close()
    except Exception as exc:
        log.warning("closing the audio of a call failed: %s", exc)


def _close_unused_audio(future: asyncio.Future[Any]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    made = future.result()
    if isinstance(made, CallAudio):
        _close_audio(made)
