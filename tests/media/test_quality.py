"""E-model, quality snapshot and one-way-audio detection."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media.quality import (
    CODEC_IMPAIRMENTS,
    OneWayAudioDetector,
    OneWayAudioEvent,
    QualitySnapshot,
    delay_impairment,
    effective_equipment_impairment,
    estimate_mos,
    mos_from_r,
    r_factor,
)


@pytest.mark.parametrize("codec", ["PCMU", "PCMA", "opus"])
def test_perfect_network_gives_default_r(codec: str) -> None:
    assert r_factor(0, 0, 0, codec) == pytest.approx(93.2, abs=0.05)
    assert estimate_mos(0, 0, 0, codec) == pytest.approx(4.41, abs=0.01)


@pytest.mark.parametrize(
    ("r", "mos"),
    [(-5, 1.0), (0, 1.0), (50, 2.575), (60, 3.1), (70, 3.597), (80, 4.024), (90, 4.339), (100, 4.5), (120, 4.5)],
)
def test_r_to_mos_points(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=1e-9)


def test_idd_follows_g107_formula() -> None:
    # With Ta = 200 ms, X = 1: Idd = 25((2)^(1/6) - 3(1 + 1/729)^(1/6) + 2).
    idd_200 = 25 * (2 ** (1 / 6) - 3 * (1 + 1 / 729) ** (1 / 6) + 2)
    idle_200 = delay_impairment(200) - idd_200
    assert 0 < idle_200 < 1.5
    assert delay_impairment(100) < 1.0
    assert delay_impairment(400) == pytest.approx(25.3, abs=0.1)


def test_g711_packet_loss_impairment_from_g113() -> None:
    assert CODEC_IMPAIRMENTS["PCMU"].bpl == 25.1
    # 95·2/(2 + 25.1) for random loss.
    assert effective_equipment_impairment(2, "PCMU") == pytest.approx(7.011, abs=1e-3)
    assert effective_equipment_impairment(2, "PCMU", burst_ratio=2) > effective_equipment_impairment(2, "PCMU")


def test_unknown_codec_is_rejected() -> None:
    with pytest.raises(ValueError, match="G729"):
        estimate_mos(0, 0, 0, "G729")


def test_jitter_buffer_delay_counts_as_delay() -> None:
    assert estimate_mos(0, 40, 150, "PCMU") == pytest.approx(estimate_mos(0, 0, 230, "PCMU"))
    assert estimate_mos(0, 40, 150, "PCMU", jitter_buffer_ms=60) == pytest.approx(estimate_mos(0, 0, 210, "PCMU"))


@given(st.floats(0, 60), st.floats(0.01, 20))
def test_mos_decreases_with_loss(loss: float, step: float) -> None:
    assert estimate_mos(loss + step, 10, 80, "opus") < estimate_mos(loss, 10, 80, "opus")


@given(st.floats(150, 800), st.floats(1, 200))
def test_mos_decreases_with_delay_beyond_150_ms(delay: float, step: float) -> None:
    assert estimate_mos(1, 0, delay + step, "PCMU") < estimate_mos(1, 0, delay, "PCMU")


def test_quality_snapshot_json() -> None:
    snap = QualitySnapshot(
        packets_sent=500,
        packets_received=490,
        loss_percent=2.0,
        jitter_ms=4.5,
        rtt_ms=None,
        jitter_buffer_ms=40.0,
        concealed_ms=200.0,
        mos=estimate_mos(2.0, 4.5, 60, "opus"),
    )
    data = json.loads(snap.to_json())
    assert data["packets_received"] == 490
    assert data["rtt_ms"] is None
    assert data["mos"] == pytest.approx(snap.mos)


def test_one_way_audio_warns_once_after_three_seconds_and_clears() -> None:
    det = OneWayAudioDetector()
    assert det.poll(0.0) is None  # not answered yet
    det.answered(10.0)
    assert det.poll(12.9) is None
    event = det.poll(13.0)
    assert event is not None and event.active
    assert event.silent_for == pytest.approx(3.0)
    assert det.warning
    assert det.poll(14.0) is None
    assert det.rtp_received(14.5) == OneWayAudioEvent(active=False, silent_for=0.0)
    assert not det.warning
    assert det.rtp_received(14.52) is None
    assert det.poll(17.0) is None
    event = det.poll(17.52)
    assert event is not None and event.active
    assert event.silent_for == pytest.approx(3.0)


def test_one_way_audio_quiet_while_rtp_flows() -> None:
    det = OneWayAudioDetector()
    det.answered(0.0)
    for k in range(500):
        now = k * 0.02
        assert det.rtp_received(now) is None
        assert det.poll(now) is None


def test_one_way_audio_detector_disarmed_by_stop() -> None:
    det = OneWayAudioDetector(timeout=3.0)
    det.answered(0.0)
    det.stop()
    assert det.poll(10.0) is None
    assert not det.warning
