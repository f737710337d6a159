"""G.722 at 64 kbit/s written on numpy and plain Python: the candidate the phone's FFmpeg codec was measured against.

``benchmarks/g722_choice.py`` times it and scores it beside FFmpeg's g722 (PyAV). The
sub-band split and merge (the 24-tap QMF) run on numpy for a whole frame; the two
ADPCM sub-band coders are recursive, one sample pair at a time, so they run in
Python. Block names follow ITU-T G.722 (1988) section 6; the tables are its Tables 6-18.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["G722Decoder", "G722Encoder"]

# G.722 Table 11: QMF coefficients h0..h11 (h23-i = hi).
QMF = np.array([3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11], dtype=np.int64)
# Table 14 (decision levels of the 6-bit lower sub-band quantiser) with its codes for negative and positive e.
Q6 = (0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219,
      1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919)  # fmt: skip
ILN = (0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
       5, 4)  # fmt: skip
ILP = (0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35,
       34, 33, 32)  # fmt: skip
# Table 15: inverse quantiser outputs (4-bit for prediction, 6-bit for the lower sub-band's output).
QM4 = (0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0)
QM6 = (-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576,
       -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040,
       -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
       4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136)  # fmt: skip
# Tables 16-17: log-scale factor multipliers (lower: by 4-bit magnitude; higher: by 2-bit code).
RL42 = (0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0)
WL = (-60, -30, 58, 172, 334, 538, 1198, 3042)
RH2 = (2, 1, 2, 1)
WH = (0, -214, 798)
QM2 = (-7408, -1616, 7408, 1616)
# Table 18: the anti-log table of SCALEL/SCALEH.
ILB = (2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960,
       3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008)  # fmt: skip


def _sat(x: int) -> int:
    return -32768 if x < -32768 else 32767 if x > 32767 else x


class _Band:
    """One sub-band's ADPCM state: the adaptive predictor (blocks 4) and the quantiser scale (blocks 3)."""

    def __init__(self, det: int, nb_max: int, scale_shift: int) -> None:
        self.det = det
        self.nb = 0
        self.nb_max = nb_max
        self.scale_shift = scale_shift
        self.s = 0
        self.sz = 0
        self.a = [0, 0, 0]  # pole coefficients a1, a2 (index 1, 2)
        self.b = [0] * 7  # zero coefficients b1..b6
        self.d = [0] * 7  # quantised differences d(n), d(n-1)..d(n-6)
        self.p = [0, 0, 0]  # partial reconstructions p(n), p(n-1), p(n-2)
        self.r = [0, 0, 0]  # reconstructed signal r(n), r(n-1), r(n-2)

    def adapt_scale(self, multiplier: int) -> None:
        # Blocks 3L/3H, LOGSCL and SCALEL/SCALEH.
        nb = ((self.nb * 127) >> 7) + multiplier
        self.nb = 0 if nb < 0 else self.nb_max if nb > self.nb_max else nb
        shift = self.scale_shift - (self.nb >> 11)
        mantissa = ILB[(self.nb >> 6) & 31]
        self.det = (mantissa >> shift if shift >= 0 else mantissa << -shift) << 2

    def predict(self, d: int) -> None:
        """Blocks 4L/4H: update the predictor with the quantised difference ``d``; sets the next estimate ``s``."""
        a, b, dd, p, r = self.a, self.b, self.d, self.p, self.r
        dd[0] = d
        r[0] = _sat(self.s + d)
        p[0] = _sat(self.sz + d)
        sg0, sg1, sg2 = p[0] >> 15, p[1] >> 15, p[2] >> 15
        # UPPOL2
        wd1 = _sat(a[1] << 2)
        wd2 = -wd1 if sg0 == sg1 else wd1
        wd2 = min(wd2, 32767)
        a2 = (wd2 >> 7) + (128 if sg0 == sg2 else -128) + ((a[2] * 32512) >> 15)
        a2 = max(-12288, min(12288, a2))
        # UPPOL1
        a1 = _sat((192 if sg0 == sg1 else -192) + ((a[1] * 32640) >> 15))
        limit = _sat(15360 - a2)
        a1 = max(-limit, min(limit, a1))
        # UPZERO
        step = 0 if d == 0 else 128
        sgd = d >> 15
        for i in range(1, 7):
            b[i] = _sat((step if (dd[i] >> 15) == sgd else -step) + ((b[i] * 32640) >> 15))
        # DELAYA
        dd[1:7] = dd[0:6]
        r[2], r[1] = r[1], r[0]
        p[2], p[1] = p[1], p[0]
        a[1], a[2] = a1, a2
        # FILTEP, FILTEZ, PREDIC
        sp = _sat(((a1 * _sat(r[1] + r[1])) >> 15) + ((a2 * _sat(r[2] + r[2])) >> 15))
        sz = 0
        for i in range(1, 7):
            sz += (b[i] * _sat(dd[i] + dd[i])) >> 15
        self.sz = _sat(sz)
        self.s = _sat(sp + self.sz)


class G722Encoder:
    """16 kHz int16 PCM (an even number of samples per call) to one octet per sample pair."""

    def __init__(self) -> None:
        self._history = np.zeros(22, dtype=np.int64)
        self._low = _Band(32, 18432, 8)
        self._high = _Band(8, 22528, 10)

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        x = np.concatenate((self._history, pcm.astype(np.int64)))
        self._history = x[-22:]
        pairs = pcm.size // 2
        # Transmit QMF (6.2.1): x(j) even/odd taps against h0..h11 and h11..h0.
        windows = np.lib.stride_tricks.sliding_window_view(x, 24)[::2][:pairs]
        odd = windows[:, 0::2] @ QMF
        even = windows[:, 1::2] @ QMF[::-1]
        xlows = ((even + odd) >> 14).tolist()
        xhighs = ((even - odd) >> 14).tolist()
        low, high = self._low, self._high
        out = bytearray(pairs)
        for n in range(pairs):
            # Lower sub-band: SUBTRA, QUANTL (Table 14), INVQAL, then the adaptations.
            el = _sat(xlows[n] - low.s)
            magnitude = el if el >= 0 else -(el + 1)
            det = low.det
            i = 1
            while i < 30 and magnitude >= (Q6[i] * det) >> 12:
                i += 1
            ilow = ILN[i] if el < 0 else ILP[i]
            dlow = (det * QM4[ilow >> 2]) >> 15
            low.adapt_scale(WL[RL42[ilow >> 2]])
            low.predict(dlow)
            # Higher sub-band: SUBTRA, QUANTH (one decision level, 564), INVQAH.
            eh = _sat(xhighs[n] - high.s)
            magnitude = eh if eh >= 0 else -(eh + 1)
            mih = 2 if magnitude >= (564 * high.det) >> 12 else 1
            ihigh = (0, 1, 0)[mih] if eh < 0 else (0, 3, 2)[mih]
            dhigh = (high.det * QM2[ihigh]) >> 15
            high.adapt_scale(WH[RH2[ihigh]])
            high.predict(dhigh)
            out[n] = (ihigh << 6) | ilow
        return bytes(out)


class G722Decoder:
    """Octets (one sample pair each) back to 16 kHz int16 PCM; any octet is a valid code."""

    def __init__(self) -> None:
        self._history = np.zeros(22, dtype=np.int64)
        self._low = _Band(32, 18432, 8)
        self._high = _Band(8, 22528, 10)

    def decode(self, payload: bytes) -> npt.NDArray[np.int16]:
        low, high = self._low, self._high
        sums: list[int] = []
        diffs: list[int] = []
        for code in payload:
            ilow, ihigh = code & 0x3F, code >> 6
            # INVQBL with the 6-bit table (64 kbit/s mode), RECONS, LIMIT.
            rlow = max(-16384, min(16383, low.s + ((low.det * QM6[ilow]) >> 15)))
            dlow = (low.det * QM4[ilow >> 2]) >> 15
            low.adapt_scale(WL[RL42[ilow >> 2]])
            low.predict(dlow)
            dhigh = (high.det * QM2[ihigh]) >> 15
            rhigh = max(-16384, min(16383, dhigh + high.s))
            high.adapt_scale(WH[RH2[ihigh]])
            high.predict(dhigh)
            sums.append(rlow + rhigh)
            diffs.append(rlow - rhigh)
        pairs = len(sums)
        # Receive QMF (6.2.2): interleave xs/xd, then the same 24 taps.
        fresh = np.empty(2 * pairs, dtype=np.int64)
        fresh[0::2] = sums
        fresh[1::2] = diffs
        x = np.concatenate((self._history, fresh))
        self._history = x[-22:]
        windows = np.lib.stride_tricks.sliding_window_view(x, 24)[::2][:pairs]
        first = windows[:, 0::2] @ QMF
        second = windows[:, 1::2] @ QMF[::-1]
        out = np.empty(2 * pairs, dtype=np.int64)
        out[0::2] = second >> 11
        out[1::2] = first >> 11
        return np.clip(out, -32768, 32767).astype(np.int16)
