"""The receiving half of a call's audio: socket → RTP checks → jitter buffer → decoder → sink.

A :class:`ReceiveStream` (RFC 7656 2.1.12: the received RTP stream and what
renders it) takes each RTP datagram the session hands it, validates it with
:class:`~softphone.media.rtp.RtpReceiver` (source latching, sequence,
duplicates), routes RFC 4733 events to the DTMF receivers and audio into the
:class:`~softphone.media.jitter.JitterBuffer`, tagged with its payload type so
the playout side picks the right decoder. Once per ptime the session asks it
for one frame: decoded audio, a frame recovered from the next packet's Opus
FEC, concealment, or silence, resampled to 48 kHz and written to the
:class:`~softphone.media.sources.AudioSink`. It keeps the receive-side
counters, the RFC 3550 loss and jitter figures and the one-way-audio watch.

When the peer's RTCP BYE ends the stream (:meth:`ReceiveStream.end_source`)
its SSRC, reception state, DTMF state and buffered frames are dropped: from
the next ptime on silence is played, with no concealment or FEC attempts, no
loss is counted and one-way audio is not watched, until RTP resumes with a
new SSRC, or a re-offer moves the peer's media.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from softphone.media.codecs import Codec, codec_for
from softphone.media.dtmf import DtmfReceiver
from softphone.media.errors import MediaError
from softphone.media.events import DtmfReceived, MediaEvent, OneWayAudio
from softphone.media.jitter import Frame, JitterBuffer, Missing
from softphone.media.lip_sync import StreamClock
from softphone.media.parameters import Address, CodecDescription, MediaParameters
from softphone.media.quality import OneWayAudioDetector, QualitySnapshot, estimate_mos, r_factor
from softphone.media.resample import Resampler
from softphone.media.rtp import RtpReceiver
from softphone.media.sources import PIPELINE_RATE, AudioSink, Samples

__all__ = ["ReceiveStream"]


class _Decoder:
    """One receive payload type: its codec instance and the resampler up to 48 kHz."""

    def __init__(self, codec: Codec, ptime_ms: int) -> None:
        self.codec = codec
        self.frame_samples = codec.sample_rate * ptime_ms // 1000
        self.resampler = Resampler(codec.sample_rate, PIPELINE_RATE)

    def to_pipeline(self, samples: Samples) -> Samples:
        """Freshly decoded samples at the pipeline's rate (at 48 kHz they are the pipeline's already)."""
        return samples if self.resampler.passthrough else self.resampler.process(samples)


class ReceiveStream:
    """One call's incoming RTP stream; see the module documentation.

    ``report`` takes the events it raises (DTMF digits, one-way audio).
    Call :meth:`configure` before the first packet or :meth:`play`.
    """

    ptime_ms: int

    def __init__(self, sink: AudioSink, report: Callable[[MediaEvent], None], one_way_timeout: float) -> None:
        self.sink = sink
        self._report = report
        self.receiver = RtpReceiver({})
        self.jitter = JitterBuffer(min_delay=0.010)
        self.jitter_rate = 8000
        # The peer's clock from its SRs and the delay of what we play: the audio side of lip sync.
        self.sync = StreamClock(self.jitter_rate)
        self._params: MediaParameters | None = None
        self._dtmf_receivers: dict[int, DtmfReceiver] = {}
        self._decoders: dict[int, _Decoder] = {}
        self._receive_descs: dict[int, CodecDescription] = {}
        self._event_pts: set[int] = set()
        self._last_pt: int | None = None
        self._frame_48k = 0
        self._one_way = OneWayAudioDetector(one_way_timeout)
        self._one_way_armed = False
        self._one_way_wanted = False
        self.source_ended = False
        self.frames_played = 0
        self.frames_decoded = 0
        self.fec_decoded = 0
        self.concealed = 0
        self.silence_frames = 0
        self.decode_errors = 0
        self.dtmf_received = 0

    # -- configuration ----------------------------------------------------------------

    def configure(self, params: MediaParameters, old: MediaParameters | None, ptime_ms: int) -> None:
        """Apply negotiated parameters: payload types to accept, decoders, and a new jitter buffer when needed."""
        self._params = params
        self.ptime_ms = ptime_ms
        self._frame_48k = PIPELINE_RATE * ptime_ms // 1000
        send = params.codec
        payload_types: dict[int, int] = {params.payload_type: send.clock_rate}
        audio_pts: dict[int, CodecDescription] = {}
        for pt, desc in params.receive_codecs.items():
            payload_types[pt] = desc.clock_rate
            if desc.name.lower() != "telephone-event":
                audio_pts[pt] = desc
        for rate, pt in params.telephone_events.items():
            payload_types[pt] = rate
        self._event_pts = {pt for rate, pt in params.telephone_events.items()}
        self._event_pts.update(pt for pt, d in params.receive_codecs.items() if d.name.lower() == "telephone-event")
        self._dtmf_receivers = {pt: self._dtmf_receivers.get(pt) or DtmfReceiver(pt) for pt in self._event_pts}
        self.receiver.payload_types = payload_types
        # RFC 5576: a declared SSRC is the only one a source may be latched with.
        self.receiver.expected_ssrc = params.remote_ssrc
        self._receive_descs = audio_pts
        if old is None or self._decoders_stale(old, params):
            self._decoders = {}
            self.jitter_rate = send.clock_rate
            self.jitter = self._new_jitter_buffer(send.clock_rate)

    @staticmethod
    def _decoders_stale(old: MediaParameters, new: MediaParameters) -> bool:
        def key(p: MediaParameters) -> tuple[object, ...]:
            return (
                p.ptime,
                p.codec.clock_rate,
                tuple(sorted((pt, d.name.lower(), d.clock_rate) for pt, d in p.receive_codecs.items())),
            )

        return key(old) != key(new)

    def _new_jitter_buffer(self, clock_rate: int) -> JitterBuffer:
        ptime = self.ptime_ms / 1000
        # Half a ptime of floor: playout happens on the ptime grid, so on a calm path that is enough.
        return JitterBuffer(ptime=ptime, clock_rate=clock_rate, min_delay=ptime / 2)

    def forget_source(self) -> None:
        """The remote media address changed (RFC 3264 8.3.1): forget the latched source and start afresh."""
        self.receiver.reset_latch()
        self.sync.reset()
        self.source_ended = False

    def end_source(self, ssrcs: tuple[int, ...], now: float) -> bool:
        """The peer's RTCP BYE for ``ssrcs``; True when it ended the stream we play (see the module documentation)."""
        if not self.receiver.end_source(ssrcs, now):
            return False
        self.source_ended = True
        self.jitter = self._new_jitter_buffer(self.jitter_rate)
        self._last_pt = None
        self._dtmf_receivers = {pt: DtmfReceiver(pt) for pt in self._event_pts}
        if self._one_way.warning:
            self._report(OneWayAudio(False, 0.0))
        self._apply_one_way(now)
        return True

    # -- one-way audio ------------------------------------------------------------------

    def watch_one_way(self, wanted: bool, now: float, *, restart: bool = False) -> None:
        """Arm the one-way-audio watch (from ``now``) when wanted and not armed yet; disarm it otherwise.

        A stream that ended with BYE is not watched until RTP comes back.
        """
        if restart:
            self._one_way_armed = False
        self._one_way_wanted = wanted
        self._apply_one_way(now)

    def _apply_one_way(self, now: float) -> None:
        if self._one_way_wanted and not self.source_ended:
            if not self._one_way_armed:
                self._one_way.answered(now)
                self._one_way_armed = True
        else:
            self._one_way.stop()
            self._one_way_armed = False

    def poll_one_way(self, now: float) -> None:
        if self._one_way_armed:
            event = self._one_way.poll(now)
            if event is not None:
                self._report(OneWayAudio(event.active, event.silent_for))

    # -- the receive path ------------------------------------------------------------------

    def handle_rtp(self, data: bytes, addr: Address, now: float) -> None:
        packet = self.receiver.receive(data, addr, now)
        if packet is None:
            return
        if self.source_ended:
            self.source_ended = False
            self._apply_one_way(now)
        if self._one_way_armed:
            event = self._one_way.rtp_received(now)
            if event is not None:
                self._report(OneWayAudio(event.active, event.silent_for))
        pt = packet.payload_type
        if pt in self._event_pts:
            receiver = self._dtmf_receivers.get(pt)
            if receiver is not None:
                digit = receiver.receive(packet)
                if digit is not None:
                    self.dtmf_received += 1
                    self._report(DtmfReceived(digit.digit))
            self.jitter.skip(packet.sequence, packet.timestamp)
            return
        rate = self.receiver.payload_types.get(pt, self.jitter_rate)
        if rate != self.jitter_rate:
            # The peer switched to a codec with another RTP clock: restart the playout buffer.
            self.jitter_rate = rate
            self.jitter = self._new_jitter_buffer(rate)
        # The payload type travels with the payload, so the playout side picks the right decoder.
        self.jitter.put(packet.sequence, packet.timestamp, bytes((pt,)) + packet.payload, now, packet.marker)

    # -- playout ------------------------------------------------------------------------------

    def play(self, now: float, playing: bool) -> Samples:
        """Write this ptime's frame to the sink (silence unless ``playing``) and return it."""
        item = self.jitter.get(now)
        pcm48: Samples | None = None
        if isinstance(item, Frame):
            pcm48 = self._decode_frame(item.payload)
            self.sync.clock_rate = self.jitter_rate
            self.sync.on_played(item.timestamp, now)
        elif isinstance(item, Missing):
            pcm48 = self._decode_missing(item.next_payload)
        else:
            self.silence_frames += 1
        if pcm48 is None or not playing:
            pcm48 = np.zeros(self._frame_48k, dtype=np.float32)
        self.sink.write(pcm48)
        return pcm48

    def _decoder(self, pt: int) -> _Decoder | None:
        decoder = self._decoders.get(pt)
        if decoder is None:
            params = self._params
            assert params is not None
            desc = self._receive_descs.get(pt)
            if desc is None:
                if pt != params.payload_type:
                    return None
                desc = params.codec
            try:
                codec = codec_for(desc.name, desc.clock_rate, desc.channels, dict(desc.fmtp))
            except MediaError:
                return None
            decoder = _Decoder(codec, self.ptime_ms)
            self._decoders[pt] = decoder
        return decoder

    def current_codec_name(self) -> str | None:
        params = self._params
        if params is None:
            return None
        decoder = self._decoder(self._last_pt if self._last_pt is not None else params.payload_type)
        return None if decoder is None else decoder.codec.name

    def _decode_frame(self, tagged: bytes) -> Samples | None:
        if not tagged:
            return None
        pt = tagged[0]
        decoder = self._decoder(pt)
        if decoder is None:
            self.decode_errors += 1
            return None
        self._last_pt = pt
        try:
            samples = decoder.codec.decode_float(tagged[1:])
        except MediaError:
            self.decode_errors += 1
            return self._conceal(decoder)
        self.frames_decoded += 1
        self.frames_played += 1
        return decoder.to_pipeline(samples)

    def _decode_missing(self, next_tagged: bytes | None) -> Samples | None:
        params = self._params
        assert params is not None
        decoder = self._decoder(self._last_pt if self._last_pt is not None else params.payload_type)
        if decoder is None:
            return None
        if next_tagged and next_tagged[0] == self._last_pt and decoder.codec.supports_fec:
            try:
                samples = decoder.codec.decode_fec_float(next_tagged[1:], decoder.frame_samples)
            except MediaError:
                self.decode_errors += 1
                return self._conceal(decoder)
            self.fec_decoded += 1
            self.frames_played += 1
            return decoder.to_pipeline(samples)
        return self._conceal(decoder)

    def _conceal(self, decoder: _Decoder) -> Samples | None:
        try:
            samples = decoder.codec.conceal_float(decoder.frame_samples)
        except MediaError:
            self.decode_errors += 1
            return None
        self.concealed += 1
        self.frames_played += 1
        return decoder.to_pipeline(samples)

    # -- figures ---------------------------------------------------------------------------------

    # Over the whole call: the sources left behind (re-offer, BYE) count with the current one.

    @property
    def packets_received(self) -> int:
        stats = self.receiver.stats
        return self.receiver.retired_received + (0 if stats is None else stats.received)

    def loss_percent(self) -> float:
        receiver = self.receiver
        expected, lost = receiver.retired_expected, receiver.retired_lost
        stats = receiver.stats
        if stats is not None:
            expected += stats.expected
            lost += stats.expected - (stats.received - stats.duplicates)
        if expected <= 0:
            return 0.0
        return max(0.0, min(100.0, 100.0 * lost / expected))

    def jitter_ms(self) -> float:
        stats = self.receiver.stats
        estimate = self.receiver.retired_jitter if stats is None else stats.jitter_estimate
        return 1000.0 * estimate / max(1, self.jitter_rate)

    def quality_snapshot(self, packets_sent: int, rtt: float | None) -> QualitySnapshot:
        """This second's figures, with the E-model's MOS for the codec heard (RTT halved for the path delay)."""
        loss = self.loss_percent()
        jitter_ms = self.jitter_ms()
        buffer_ms = self.jitter.current_delay * 1000
        one_way_ms = 0.0 if rtt is None else rtt * 500
        params = self._params
        assert params is not None
        name = self.current_codec_name() or params.codec.name
        try:
            mos = estimate_mos(loss, jitter_ms, one_way_ms, name, jitter_buffer_ms=buffer_ms)
            r: float | None = r_factor(loss, jitter_ms, one_way_ms, name, jitter_buffer_ms=buffer_ms)
        except ValueError:
            mos = estimate_mos(loss, jitter_ms, one_way_ms, "G711", jitter_buffer_ms=buffer_ms)
            r = None
        return QualitySnapshot(
            packets_sent=packets_sent,
            packets_received=self.packets_received,
            loss_percent=loss,
            jitter_ms=jitter_ms,
            rtt_ms=None if rtt is None else rtt * 1000,
            jitter_buffer_ms=buffer_ms,
            concealed_ms=float(self.concealed * self.ptime_ms),
            mos=mos,
            r_factor=r,
        )
