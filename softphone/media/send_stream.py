"""The sending half of a call's audio: source → encoder → RTP packetiser → transport.

A :class:`SendStream` (RFC 7656 2.1.10: the packetised stream one RTP sender
emits) is stepped once per ptime by the media session. Each step reads one
frame from the :class:`~softphone.media.sources.AudioSource` and sends one RTP
packet: encoded audio, silence while muted or held, a Q.23 tone pair while an
in-band digit plays, or an RFC 4733 telephone-event packet while a digit is
sent out of band. It also follows the peer's loss reports (RTCP) by tuning the
Opus encoder. Sockets and addresses stay with the session: the stream hands
each packet to ``transmit``.
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Callable

import numpy as np

from softphone.media.codecs import Codec, OpusCodec, codec_for
from softphone.media.dtmf import DtmfSender
from softphone.media.parameters import MediaParameters
from softphone.media.resample import Resampler
from softphone.media.rtp import RtpSender
from softphone.media.sources import PIPELINE_RATE, AudioSource, Samples
from softphone.media.tones import ToneGenerator, dtmf_spec

__all__ = ["SendStream"]

DTMF_DURATION_MS = 100
DTMF_GAP_FRAMES = 3


class SendStream:
    """One call's outgoing RTP stream; see the module documentation.

    ``transmit`` sends one RTP packet to the peer and says whether it left.
    Call :meth:`configure` before the first :meth:`step`.
    """

    encoder: Codec
    target_bitrate: int
    ptime_ms: int

    def __init__(self, source: AudioSource, transmit: Callable[[bytes], bool], rng: random.Random) -> None:
        self.source = source
        self._transmit = transmit
        self.rtp = RtpSender(0, 8000, rng=rng)
        self.muted = False
        self.held = False
        self.dtmf_packets_sent = 0
        self.sent_since_report = False
        self._dtmf_sender: DtmfSender | None = None
        self._dtmf_queue: collections.deque[str] = collections.deque()
        self._dtmf_packets: collections.deque[bytes] = collections.deque()
        self._inband: ToneGenerator | None = None
        self._inband_left = 0
        self._gap_frames = 0
        self._marker_next = True
        self._smoothed_remote_loss = 0.0
        self._samples_per_packet = 0
        self._frame_48k = 0

    def configure(self, params: MediaParameters, old: MediaParameters | None, ptime_ms: int) -> None:
        """Apply negotiated parameters; the encoder is rebuilt only when codec, payload type or ptime changed."""
        self.ptime_ms = ptime_ms
        send = params.codec
        if old is None or (
            old.codec.name.lower(),
            old.codec.clock_rate,
            dict(old.codec.fmtp),
            old.payload_type,
            old.ptime,
        ) != (send.name.lower(), send.clock_rate, dict(send.fmtp), params.payload_type, params.ptime):
            encoder = codec_for(send.name, send.clock_rate, send.channels, dict(send.fmtp))
            encoder.frame_samples(ptime_ms)  # validates the ptime for this codec
            self.encoder = encoder
            self.target_bitrate = encoder.bitrate if isinstance(encoder, OpusCodec) else 0
            self._send_resampler = Resampler(PIPELINE_RATE, encoder.sample_rate)
            self.rtp.payload_type = params.payload_type
            self.rtp.clock_rate = encoder.clock_rate
            self._marker_next = True
        self._samples_per_packet = self.encoder.clock_rate * ptime_ms // 1000
        self._frame_48k = PIPELINE_RATE * ptime_ms // 1000
        te = params.telephone_event
        self._dtmf_sender = None if te is None else DtmfSender(self.rtp, te, self._samples_per_packet)

    def new_talkspurt(self) -> None:
        """Set the marker bit on the next audio packet (RFC 3551 4.1: after hold, a direction change, a move)."""
        self._marker_next = True

    def queue_dtmf(self, digits: str) -> None:
        self._dtmf_queue.extend(d.upper() for d in digits)

    @property
    def send_bitrate(self) -> int | None:
        return self.encoder.bitrate if isinstance(self.encoder, OpusCodec) else None

    def step(self, sending: bool) -> Samples | None:
        """Send this ptime's frame; returns the audio sent (None: nothing, or an RFC 4733 event)."""
        frame = self.source.read(self._frame_48k)
        if not sending:
            self._dtmf_packets.clear()
            return None
        if self.held or self.muted:
            frame = np.zeros(self._frame_48k, dtype=np.float32)
        if not self._dtmf_packets and not self._inband_left and self._dtmf_queue:
            if self._gap_frames > 0:
                self._gap_frames -= 1
            else:
                self._start_dtmf(self._dtmf_queue.popleft())
        if self._dtmf_packets:
            self._transmit(self._dtmf_packets.popleft())
            self.dtmf_packets_sent += 1
            self.sent_since_report = True
            if not self._dtmf_packets:
                self._gap_frames = DTMF_GAP_FRAMES
                self._marker_next = True  # RFC 4733 2.5.1.1: audio after an event starts a talkspurt
            return None
        if self._inband is not None and self._inband_left > 0:
            frame = self._inband.read_float(self._frame_48k)
            self._inband_left -= 1
            if self._inband_left == 0:
                self._gap_frames = DTMF_GAP_FRAMES
        samples = np.asarray(frame, dtype=np.float32)
        if not self._send_resampler.passthrough:
            samples = self._send_resampler.process(samples)
        payload = self.encoder.encode_float(samples)
        data = self.rtp.packetize(payload, self._samples_per_packet, marker=self._marker_next)
        self._marker_next = False
        self._transmit(data)
        self.sent_since_report = True
        return frame

    def _start_dtmf(self, digit: str) -> None:
        if self._dtmf_sender is not None:
            duration = self.encoder.clock_rate * DTMF_DURATION_MS // 1000
            self._dtmf_packets.extend(self._dtmf_sender.digit(digit, duration))
        else:
            # No telephone-event negotiated: play the Q.23 pair in band.
            self._inband = ToneGenerator(dtmf_spec(digit, DTMF_DURATION_MS, level_dbfs=-10.0), PIPELINE_RATE)
            self._inband_left = max(1, DTMF_DURATION_MS // self.ptime_ms)

    def adapt_to_loss(self, loss_percent: float) -> None:
        """Tune Opus to the loss the peer reports (RFC 7587 3.1.2): FEC budget, and bitrate under heavy loss."""
        self._smoothed_remote_loss = 0.5 * self._smoothed_remote_loss + 0.5 * loss_percent
        encoder = self.encoder
        if not isinstance(encoder, OpusCodec):
            return
        encoder.set_expected_loss(min(100, max(0, math.ceil(self._smoothed_remote_loss))))
        current = encoder.bitrate
        if self._smoothed_remote_loss >= 10.0:
            stepped = max(12000, int(current * 0.75))
        elif self._smoothed_remote_loss < 2.0:
            stepped = min(self.target_bitrate, int(current * 1.1) + 1000)
        else:
            return
        if stepped != current and 6000 <= stepped <= 510000:
            encoder.set_bitrate(stepped)
