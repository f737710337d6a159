"""Call-quality estimation: the E-model, the per-second quality snapshot, one-way audio.

The E-model follows ITU-T G.107 with every parameter at its default value
(G.107 Table 3), as G.113 Appendix I does for VoIP planning:

    R = R0 - Is - Id - Ie,eff + A

With default values R0 = 94.77 and Is = 1.41 (G.107 7.1 and 7.2).  Id is
reduced to the terms that depend on delay once talker echo is controlled:
the listener-echo term Idle (G.107 7.3, round trip Tr = 2·Ta) and the
absolute-delay term Idd; the talker-echo term Idte is taken as zero because a
softphone runs acoustic echo cancellation.  With no delay Id is 0.15, which
gives the familiar R = 93.2 (MOS 4.41) for G.711 without loss.

Codec impairment values come from the table below.  G.711 with packet-loss
concealment is G.113 Appendix I (Ie 0, Bpl 25.1).  Opus has no G.113 entry:
its narrowband-scale Ie is taken as 0 (Opus at VoIP bit rates is at least as
clear as G.711, and the narrowband R scale cannot credit wideband), and its
Bpl as 25.1 as for G.711 with concealment, a conservative choice since Opus
adds in-band FEC (RFC 6716) on top of its concealment.  G.722 at 64 kbit/s
is rated on the wideband scale only (G.113 Appendix IV, G.107.1); on this
narrowband scale it gets G.711's values, with the same frame-repeat
concealment.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

__all__ = [
    "CODEC_IMPAIRMENTS",
    "CodecImpairment",
    "OneWayAudioDetector",
    "OneWayAudioEvent",
    "QualitySnapshot",
    "delay_impairment",
    "effective_equipment_impairment",
    "estimate_mos",
    "mos_from_r",
    "r_factor",
]

# G.107 7.1-7.2 with Table 3 defaults.
R0_DEFAULT = 94.77
IS_DEFAULT = 1.41
# G.107 Table 3: weighted echo path loss, used by Idle.
_WEPL = 110.0


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    ie: float
    bpl: float


CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    # G.113 Appendix I, G.711 with packet-loss concealment.
    "PCMU": CodecImpairment(ie=0.0, bpl=25.1),
    "PCMA": CodecImpairment(ie=0.0, bpl=25.1),
    "G711": CodecImpairment(ie=0.0, bpl=25.1),
    # No G.113 entry; see the module documentation for the choice.
    "OPUS": CodecImpairment(ie=0.0, bpl=25.1),
    # Wideband, so only on G.107.1's scale; here as G.711 (see the module documentation).
    "G722": CodecImpairment(ie=0.0, bpl=25.1),
}


def _codec(codec: str) -> CodecImpairment:
    try:
        return CODEC_IMPAIRMENTS[codec.upper()]
    except KeyError:
        raise ValueError(f"no E-model impairment values for codec {codec!r}") from None


def delay_impairment(one_way_delay_ms: float) -> float:
    """Id for a mouth-to-ear delay Ta in ms: Idle (Tr = 2·Ta) plus Idd."""
    ta = max(0.0, one_way_delay_ms)
    # G.107 7.3: listener echo with Tr = 2T and the default WEPL.
    rle = 10.5 * (_WEPL + 7) / math.pow(2 * ta + 1, 0.25)
    idle = (R0_DEFAULT - rle) / 2 + math.sqrt((R0_DEFAULT - rle) ** 2 / 4 + 169)
    idd = 0.0
    if ta > 100:
        # G.107 7.3: Idd for Ta > mA = 100 ms with sT = 1.
        x = math.log10(ta / 100) / math.log10(2)
        idd = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    return idle + idd


def effective_equipment_impairment(loss_percent: float, codec: str, burst_ratio: float = 1.0) -> float:
    """Ie,eff = Ie + (95 - Ie)·Ppl / (Ppl/BurstR + Bpl) (G.107 7.4)."""
    if burst_ratio <= 0:
        raise ValueError("burst_ratio must be positive")
    values = _codec(codec)
    ppl = min(100.0, max(0.0, loss_percent))
    return values.ie + (95 - values.ie) * ppl / (ppl / burst_ratio + values.bpl)


def r_factor(
    loss_percent: float,
    jitter_ms: float,
    delay_ms: float,
    codec: str,
    burst_ratio: float = 1.0,
    *,
    jitter_buffer_ms: float | None = None,
    advantage: float = 0.0,
) -> float:
    """Transmission rating R.

    ``delay_ms`` is the one-way delay up to the receiver's jitter buffer; the
    buffer's own delay is added to it, and when not given is estimated as
    twice the interarrival jitter.
    """
    buffer_ms = 2 * max(0.0, jitter_ms) if jitter_buffer_ms is None else max(0.0, jitter_buffer_ms)
    ta = delay_ms + buffer_ms
    return (
        R0_DEFAULT
        - IS_DEFAULT
        - delay_impairment(ta)
        - effective_equipment_impairment(loss_percent, codec, burst_ratio)
        + advantage
    )


def mos_from_r(r: float) -> float:
    """MOS-CQE from R (G.107 Annex B, B-4)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def estimate_mos(
    loss_percent: float,
    jitter_ms: float,
    delay_ms: float,
    codec: str,
    burst_ratio: float = 1.0,
    *,
    jitter_buffer_ms: float | None = None,
) -> float:
    """MOS from network figures; arguments as for :func:`r_factor`."""
    return mos_from_r(
        r_factor(loss_percent, jitter_ms, delay_ms, codec, burst_ratio, jitter_buffer_ms=jitter_buffer_ms)
    )


@dataclass(frozen=True, slots=True)
class QualitySnapshot:
    """Figures for the once-a-second ``quality`` event of a call."""

    packets_sent: int
    packets_received: int
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None
    jitter_buffer_ms: float
    concealed_ms: float
    mos: float
    r_factor: float | None = None
    # The way media takes: host, srflx or relay when ICE chose it, relay or direct without ICE; and its two ends.
    path: str | None = None
    path_local: str | None = None
    path_remote: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class OneWayAudioEvent:
    """``active`` is True when the warning starts and False when it clears."""

    active: bool
    silent_for: float


class OneWayAudioDetector:
    """Warns when no RTP has arrived for ``timeout`` seconds after the call was answered."""

    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._answered_at: float | None = None
        self._last_rtp: float | None = None
        self._warning = False

    @property
    def warning(self) -> bool:
        return self._warning

    def answered(self, now: float) -> None:
        self._answered_at = now
        self._last_rtp = None
        self._warning = False

    def stop(self) -> None:
        """Disarm when the call ends or is put on hold."""
        self._answered_at = None
        self._warning = False

    def rtp_received(self, now: float) -> OneWayAudioEvent | None:
        """Record an arriving RTP packet; returns the clearing event if a warning was on."""
        self._last_rtp = now
        if self._warning:
            self._warning = False
            return OneWayAudioEvent(active=False, silent_for=0.0)
        return None

    def poll(self, now: float) -> OneWayAudioEvent | None:
        """Check the timeout; returns the warning event once when it starts."""
        if self._answered_at is None or self._warning:
            return None
        since = self._answered_at if self._last_rtp is None else max(self._last_rtp, self._answered_at)
        if now - since >= self.timeout:
            self._warning = True
            return OneWayAudioEvent(active=True, silent_for=now - since)
        return None
