"""The video of calls: a :class:`~softphone.media.video.VideoSession` per call whose offer/answer agreed video.

A session starts when the call is answered with a video stream, follows each
new offer/answer (another address, a direction, hold) and stops when the
stream is declined or the call ends. A call whose audio is encrypted has its
video keyed the same way (the stream's ``crypto``; DTLS-SRTP with this
installation's certificate). Sessions run on threads of their own;
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
from softphone.media.events import EncryptionFailed, MediaEvent
from softphone.sip.video_offer_answer import NegotiatedVideo, VideoConfig, video_codecs_named
from softphone.ua.call import Call
from softphone.ua.events import ErrorEvent, Event, MediaWarningEvent, VideoQualityEvent

if TYPE_CHECKING:
    import av

    from softphone.media.dtls import DtlsIdentity
    from softphone.media.video import VideoQuality

__all__ = ["CallVideo", "VideoSettings"]

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
            return
        settings = self.settings()
        port = call.video_port.socket if call.video_port is not None else None
        if settings is None or port is None or not answered or call.ended:
            return
        # The session gets its own descriptor of the call's port: video dropped and added again reuses the port.
        sock = port.dup()
        # PyAV (FFmpeg) is loaded with the first video call, not when the phone starts.
        from softphone.media.video import VideoSession
        from softphone.media.video_codec import VideoRecorder
        from softphone.media.video_sources import open_source

        try:
            source = (
                open_source(settings.source, settings.width, settings.height, settings.fps) if settings.source else None
            )
        except MediaError as exc:
            self._warn(call, f"no video source: {exc}")
            source = None
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
            if isinstance(event, EncryptionFailed):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._warn, call, f"video encryption failed: {event.reason}")

        on_frame = settings.on_frame
        try:
            session = VideoSession(
                sock,
                video,
                source,
                fps=settings.fps,
                bitrate=settings.bitrate,
                recorder=recorder,
                on_frame=(lambda picture: on_frame(call.id, picture)) if on_frame is not None else None,
                on_quality=on_quality,
                on_event=on_event,
                dtls_identity=self._identity() if video.crypto is not None else None,
                audio_delay=lambda: call.media_session.playout_delay if call.media_session is not None else None,
            )
            session.start()
        except Exception as exc:
            log.warning("call %s: video did not start: %s", call.id, exc)
            self._warn(call, f"video did not start: {exc}")
            for closing in (source, recorder):
                if closing is not None:
                    closing.close()
            sock.close()
            return
        call.video_session = session
        call.video_applied = video

    def _record_path(self, path: Path, call: Call) -> Path:
        if path in self._recorded:
            path = path.with_name(f"{path.stem}-{call.id}{path.suffix}")
        self._recorded.add(path)
        return path

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
        return self._loop().run_in_executor(None, session.stop, 1.0)
