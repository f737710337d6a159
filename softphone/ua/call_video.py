"""The video of calls: a :class:`~softphone.media.video.VideoSession` per call whose offer/answer agreed video.

A session starts when the call is answered with a video stream, follows each
new offer/answer (another address, a direction, hold) and stops when the
stream is declined or the call ends. A call whose audio is encrypted has its
video keyed the same way (the stream's ``crypto``; DTLS-SRTP with this
installation's certificate). Behind a NAT the video port has an address of
its own (its NAT mapping or TURN relay, learned as the audio port's is) and,
with ICE, a session runs ICE of its own on it; a network change gives the
call a new video port, which the running session takes over between two
packets (:meth:`CallVideo.move`). Sessions run on threads of their own;
opening a source and joining a thread happen in the loop's executor, and what
a session reports reaches the UA loop through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softphone.media.errors import MediaError
from softphone.media.events import EncryptionFailed, IceConnected, IceFailure, MediaEvent
from softphone.media.ice_link import RelayedSocket
from softphone.sip.video_offer_answer import NegotiatedVideo, VideoConfig, video_codecs_named
from softphone.ua.call import Call
from softphone.ua.errors import UserAgentError
from softphone.ua.events import (
    ErrorEvent,
    Event,
    MediaPathEvent,
    MediaWarningEvent,
    VideoEvent,
    VideoQualityEvent,
)
from softphone.ua.media import MediaPort
from softphone.ua.video_pictures import VideoPictures

if TYPE_CHECKING:
    import av

    from softphone.media.dtls import DtlsIdentity
    from softphone.media.video import VideoQuality

__all__ = ["CallVideo", "VideoCamera", "VideoSettings", "shown_address", "video_cameras"]

log = logging.getLogger("softphone.ua")


@dataclass
class VideoSettings:
    """What video calls send and do with what they receive.

    ``source``: ``pattern`` (a test pattern carrying its frame counter), ``screen[:DISPLAY]`` (an X11 screen),
    a video file's or a picture's path, or None to
    send nothing (the stream is offered and answered recvonly). ``record``: write each call's received video
    to this Matroska file (a second video call of the same run gets ``-<call id>`` before the suffix).
    ``on_frame(call_id, picture)`` gets every decoded picture on the call's video thread. ``codecs``: what is
    offered and accepted, in order of preference.
    """

    source: str | None = "pattern"
    width: int = 320
    height: int = 240
    fps: int = 15
    bitrate: int = 300_000
    record: Path | None = None
    on_frame: Callable[[str, av.VideoFrame], None] | None = None
    # Codecs in order of preference (VP8, H264).
    codecs: tuple[str, ...] = ("VP8", "H264")

    def sdp(self) -> VideoConfig:
        return VideoConfig(codecs=video_codecs_named(self.codecs), send=self.source is not None)


@dataclass(frozen=True, slots=True)
class VideoCamera:
    """A camera a call can send from: ``source`` (``camera:/dev/video0``) and its name."""

    source: str
    name: str


def video_cameras() -> tuple[list[VideoCamera], str | None]:
    """The cameras found, and why none can be used when that is so (``no camera found`` …)."""
    from softphone.media.video_sources import camera_input_available, list_cameras

    cameras = [VideoCamera(f"camera:{c.device}", c.name) for c in list_cameras()]
    if not cameras:
        return [], "no camera found"
    if not camera_input_available():
        return cameras, "this FFmpeg cannot read cameras (no v4l2 input)"
    return cameras, None


class CallVideo:
    """Starts, updates and stops the video sessions of the calls of one user agent."""

    def __init__(
        self,
        settings: Callable[[], VideoSettings | None],
        loop: Callable[[], asyncio.AbstractEventLoop],
        emit: Callable[[Event], None],
        identity: Callable[[], DtlsIdentity | None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._identity = identity
        self._loop = loop
        self._emit = emit
        self._recorded: set[Path] = set()
        # The newest pictures of each call, for a video window.
        self.pictures = VideoPictures()
        # What the last VideoEvent of each call with video said: its source, and the camera on or off.
        self._said: dict[str, tuple[str | None, bool]] = {}

    def source_of(self, call: Call, settings: VideoSettings) -> str | None:
        return call.video_source if call.video_source_chosen else settings.source

    @staticmethod
    def _open(spec: str | None, settings: VideoSettings) -> tuple[Any, str | None]:
        """The source ``spec`` names, or None and why it cannot be opened (the call goes on without our
        picture). Any thread: it only talks to FFmpeg."""
        from softphone.media.video_sources import open_source

        if spec is None:
            return None, None
        try:
            return open_source(spec, settings.width, settings.height, settings.fps), None
        except MediaError as exc:
            return None, str(exc)

    async def set_source(self, call: Call, spec: str | None) -> None:
        """Send from ``spec`` in this call from now on (None: nothing, the stream staying as negotiated)."""
        settings = self.settings()
        if settings is None:
            raise UserAgentError("video is off (no --video)")
        call.video_source, call.video_source_chosen = spec, True
        session = call.video_session
        if session is None:
            return
        # Opening a screen or a camera talks to the X server or the driver: not on the loop.
        source, problem = await self._loop().run_in_executor(None, self._open, spec, settings)
        if problem is not None:
            self._warn(call, f"no video source: {problem}")
        if call.video_session is not session or call.video_source != spec:
            if source is not None:
                source.close()  # the call's video ended, or another choice came meanwhile
            return
        session.set_source(source)
        self._say(call, spec if source is not None else None)

    def apply(self, call: Call, video: NegotiatedVideo | None, *, answered: bool, hold: bool) -> None:
        """Give the call's video what the latest offer/answer agreed (None: no video stream)."""
        session = call.video_session
        if video is None:
            if session is not None:
                self.stop(call)
            return
        if hold:
            video = dataclasses.replace(video, direction="inactive")
        if session is not None:
            if video != call.video_applied:
                try:
                    session.update(video)
                except MediaError as exc:
                    self._warn(call, f"video stopped: {exc}")
                    self.stop(call)
                    return
                call.video_applied = video
            if self._said.get(call.id, (None, True))[1] != call.machine.video_send:
                self._say(call, self._said.get(call.id, (None, True))[0])
            return
        settings = self.settings()
        port = call.video_port.socket if call.video_port is not None else None
        if settings is None or port is None or not answered or call.ended:
            return
        # The session gets its own descriptor of the call's port: video dropped and added again reuses the port.
        # A relayed socket holds the TURN allocation: the session uses it, and the call closes it.
        relayed = isinstance(port, RelayedSocket)
        sock = port if relayed else port.dup()
        # PyAV (FFmpeg) is loaded with the first video call, not when the phone starts.
        from softphone.media.video import VideoSession
        from softphone.media.video_codec import VideoRecorder

        spec = self.source_of(call, settings)
        source, problem = self._open(spec, settings)
        if problem is not None:
            self._warn(call, f"no video source: {problem}")
        recorder = None
        if settings.record is not None:
            try:
                recorder = VideoRecorder(self._record_path(settings.record, call), video.codec.name)
            except MediaError as exc:
                self._warn(call, f"cannot record video: {exc}")
        loop = self._loop()

        def on_quality(quality: VideoQuality) -> None:
            event = VideoQualityEvent(call.id, **dataclasses.asdict(quality))
            with contextlib.suppress(RuntimeError):  # the loop is closed: the UA is gone
                loop.call_soon_threadsafe(self._post, call, event)

        def on_event(event: MediaEvent) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the UA is gone
                if isinstance(event, EncryptionFailed):
                    loop.call_soon_threadsafe(self._warn, call, f"video encryption failed: {event.reason}")
                elif isinstance(event, IceConnected):
                    local, remote = shown_address(event.local), shown_address(event.remote)
                    loop.call_soon_threadsafe(
                        self._post, call, MediaPathEvent(call.id, event.kind, local, remote, "video")
                    )
                elif isinstance(event, IceFailure):
                    warning = MediaWarningEvent(call.id, "ice", f"no path for the video: {event.reason}")
                    loop.call_soon_threadsafe(self._post, call, warning)

        on_frame = settings.on_frame
        pictures = self.pictures

        def on_picture(picture: av.VideoFrame) -> None:
            pictures.offer(call.id, "remote", picture)
            if on_frame is not None:
                on_frame(call.id, picture)

        try:
            session = VideoSession(
                sock,
                video,
                source,
                fps=settings.fps,
                bitrate=settings.bitrate,
                recorder=recorder,
                on_frame=on_picture,
                on_quality=on_quality,
                on_preview=lambda picture: pictures.offer(call.id, "local", picture),
                on_event=on_event,
                dtls_identity=self._identity() if video.crypto is not None else None,
                audio_delay=lambda: call.media_session.playout_delay if call.media_session is not None else None,
                own_socket=not relayed,
            )
            session.start()
        except Exception as exc:
            log.warning("call %s: video did not start: %s", call.id, exc)
            self._warn(call, f"video did not start: {exc}")
            for closing in (source, recorder):
                if closing is not None:
                    closing.close()
            if not relayed:
                sock.close()
            return
        call.video_session = session
        call.video_applied = video
        self._say(call, spec if source is not None else None)

    def _record_path(self, path: Path, call: Call) -> Path:
        if path in self._recorded:
            path = path.with_name(f"{path.stem}-{call.id}{path.suffix}")
        self._recorded.add(path)
        return path

    def _say(self, call: Call, source: str | None) -> None:
        """A VideoEvent: the call's video runs, sending from ``source``, with the camera on or off."""
        self._said[call.id] = (source, call.machine.video_send)
        self._emit(VideoEvent(call.id, True, source, call.machine.video_send))

    def _post(self, call: Call, event: Event) -> None:
        if not call.ended:
            self._emit(event)

    def _warn(self, call: Call, message: str) -> None:
        self._emit(MediaWarningEvent(call.id, "media_failure", message))
        self._emit(ErrorEvent(f"call {call.id}: {message}"))

    def stop(self, call: Call) -> asyncio.Future[Any] | None:
        """Stop the call's video off the loop (the thread join and the recorder's close take a moment)."""
        session, call.video_session, call.video_applied = call.video_session, None, None
        if session is None:
            return None
        self._said.pop(call.id, None)
        if not call.ended:
            self._emit(VideoEvent(call.id, False, None, call.machine.video_send))
        stopped = self._loop().run_in_executor(None, session.stop, 1.0)
        stopped.add_done_callback(lambda _: self.pictures.forget(call.id) if call.video_session is None else None)
        return stopped

    def move(self, call: Call, port: MediaPort) -> None:
        """The call's video port is ``port`` from now on (our network changed): a running session takes it over
        between two packets and waits for the ICE restart's answer; the old port is closed once it is let go."""
        old, call.video_port = call.video_port, port
        session = call.video_session
        new = port.socket
        if session is None or new is None:
            if old is not None:
                old.close()
            return
        relayed = isinstance(new, RelayedSocket)
        session.replace_socket(new if relayed else new.dup(), own=not relayed, released=old.close if old else None)


def shown_address(address: tuple[str, int]) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
