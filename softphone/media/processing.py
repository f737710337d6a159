"""Microphone processing between the sound device and the encoder: echo cancellation, noise suppression,
a high-pass filter and automatic gain control.

An :class:`AudioProcessor` sits where samples pass between the devices and the
codecs, on the media thread (never in the sounddevice callback): every frame
written to the speaker goes through :meth:`AudioProcessor.far`, every frame read
from the microphone through :meth:`AudioProcessor.process`.

- Echo cancellation is :class:`~softphone.media.echo.EchoCanceller` (numpy only,
  so it is always there).
- Noise suppression, the high-pass filter and gain control are WebRTC's audio
  processing module (its noise suppressor, the capture high-pass filter and
  AGC2's adaptive digital gain with its limiter) through the ``pywebrtc-audio``
  wheel. Without that package the phone goes on with echo cancellation only
  and says so once (:attr:`AudioProcessor.unavailable`).

Order: echo cancellation first (it needs the microphone as captured, before any
gain changes what the echo path looks like), then the WebRTC chain.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from softphone.media.echo import EchoCanceller, EchoStats

__all__ = [
    "NOISE_LEVELS",
    "AudioProcessor",
    "NoiseLevel",
    "ProcessingConfig",
    "ProcessingStats",
    "webrtc_available",
]

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]
NoiseLevel = Literal["off", "low", "moderate", "high"]
NOISE_LEVELS: tuple[NoiseLevel, ...] = ("off", "low", "moderate", "high")
# WebRTC's suppression levels: at most 6, 12 and 18 dB of attenuation.
_WEBRTC_NS_LEVEL = {"low": 0, "moderate": 1, "high": 2}
_RATE = 48000
_FRAME_10MS = _RATE // 100


@dataclass(frozen=True, slots=True)
class ProcessingConfig:
    """What to do to the microphone; the defaults are for a laptop or desk phone without a headset.

    A studio microphone wants everything off but perhaps echo cancellation.
    """

    echo_cancellation: bool = True
    noise_suppression: NoiseLevel = "moderate"
    high_pass_filter: bool = True
    gain_control: bool = True

    @classmethod
    def off(cls) -> ProcessingConfig:
        return cls(False, "off", False, False)

    @property
    def enabled(self) -> bool:
        return self.echo_cancellation or self.webrtc_wanted

    @property
    def webrtc_wanted(self) -> bool:
        return self.noise_suppression != "off" or self.high_pass_filter or self.gain_control

    def with_(self, **changes: Any) -> ProcessingConfig:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ProcessingStats:
    """The processor's figures for the once-a-second quality report."""

    erle_db: float | None  # echo return loss enhancement (None: canceller off, or no echo to measure)
    echo_delay_ms: float | None  # the delay the canceller found (None: off, or not found yet)
    level: float  # RMS of the last processed frame, 0..1


def _webrtc() -> Any:
    import pywebrtc_audio  # type: ignore[import-untyped,unused-ignore]

    return pywebrtc_audio


def webrtc_available() -> str | None:
    """None when WebRTC's processing can be loaded, otherwise why not."""
    try:
        _webrtc()
    except Exception as exc:  # ImportError, or a wheel that does not load on this machine
        return f"noise suppression and gain control are not available ({exc}); install pywebrtc-audio"
    return None


class AudioProcessor:
    """The microphone chain of one call; see the module documentation.

    Frames may be any whole number of 10 ms at 48 kHz (a media frame); the echo canceller is
    made for the first frame size it sees and made again when that changes (a new ptime).
    """

    def __init__(self, config: ProcessingConfig) -> None:
        self.config = config
        self._canceller: EchoCanceller | None = None
        self._webrtc: Any = None
        self._agc: Any = None
        self.unavailable: str | None = None
        self._level = 0.0
        self._pending_far: list[Samples] = []
        if config.webrtc_wanted:
            reason = webrtc_available()
            if reason is not None:
                self.unavailable = reason
                log.warning("%s", reason)
            else:
                webrtc = _webrtc()
                if config.noise_suppression != "off" or config.high_pass_filter:
                    self._webrtc = webrtc.AudioProcessor(
                        sample_rate=_RATE,
                        noise_suppression=config.noise_suppression != "off",
                        high_pass_filter=config.high_pass_filter,
                        ns_level=_WEBRTC_NS_LEVEL.get(config.noise_suppression, 1),
                    )
                if config.gain_control:
                    # Apart, so that it can be told what is speech: residual echo must not be raised.
                    self._agc = webrtc.GainController(sample_rate=_RATE, max_gain_db=30.0)

    # --- the two streams (media thread) ------------------------------------------------------------

    def far(self, block: Samples) -> None:
        """A frame as written to the speaker."""
        if not self.config.echo_cancellation:
            return
        canceller = self._canceller
        if canceller is None or canceller.block != block.size:
            # The canceller is made with the first microphone frame; until then keep what was played.
            self._pending_far.append(np.array(block, dtype=np.float32))
            del self._pending_far[:-8]
            return
        canceller.far(block)

    def slip(self, samples: int) -> None:
        """The microphone's timeline moved ``samples`` later against the speaker's (a ring ran empty or over)."""
        if self._canceller is not None:
            self._canceller.slip(samples)

    def process(self, mic: Samples) -> Samples:
        """A frame as read from the microphone, processed."""
        out = np.asarray(mic, dtype=np.float32)
        if self.config.echo_cancellation:
            canceller = self._canceller
            if canceller is None or canceller.block != out.size:
                canceller = self._canceller = EchoCanceller(out.size, _RATE)
                for pending in self._pending_far:
                    if pending.size == out.size:
                        canceller.far(pending)
                self._pending_far.clear()
            out = canceller.process(out)
        if out.size % _FRAME_10MS == 0:
            canceller = self._canceller
            # Until the canceller knows the echo, what the far end plays may be all the microphone hears.
            share = 0.0 if canceller is None else (1.0 if canceller.unsure else canceller.echo_share)
            speech = 1.0 - share
            if self._webrtc is not None:
                out = np.asarray(self._webrtc.process(np.ascontiguousarray(out, dtype=np.float32)), dtype=np.float32)
                if self.config.noise_suppression != "off":
                    speech *= float(self._webrtc.speech_probability)
            if self._agc is not None:
                before = out
                out = np.asarray(
                    self._agc.process(np.ascontiguousarray(out, dtype=np.float32), speech), dtype=np.float32
                )
                if share > 0.0:
                    # The gain learnt on the near end's voice must not raise what is left of the echo.
                    out = (out * np.float32(1.0 - share) + before * np.float32(share)).astype(np.float32)
        if out.size:
            self._level = math.sqrt(float(np.dot(out, out)) / out.size)
        return out

    # --- figures (any thread) -------------------------------------------------------------------------

    def echo_stats(self) -> EchoStats | None:
        canceller = self._canceller
        return None if canceller is None else canceller.stats()

    def stats(self) -> ProcessingStats:
        echo = self.echo_stats()
        if echo is None:
            return ProcessingStats(None, None, self._level)
        return ProcessingStats(echo.erle_db, echo.delay_ms, self._level)

    @property
    def level(self) -> float:
        """RMS (0..1) of the last processed microphone frame: what the far end hears."""
        return self._level
