"""The video send-rate controller, sans-I/O: the loss rule, TMMBR and REMB caps, and the layers it picks."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from softphone.media.rtcp import GenericRtcpPacket, ReceiverReport, build_compound, is_rtcp, parse_compound
from softphone.media.rtcp_feedback import read_feedback, remb, tmmbn, tmmbr
from softphone.media.video import VideoSession
from softphone.media.video_rate import SendRateController, VideoLayer, layers_for
from softphone.media.video_sources import PatternSource
from tests.media.test_video_session import bound, params, wait_for


def controller(maximum: int = 300_000, **kwargs: int) -> SendRateController:
    return SendRateController(320, 240, 15, maximum, **kwargs)


def test_high_loss_cuts_by_half_the_loss_and_low_loss_raises_by_eight_percent() -> None:
    rate = controller()
    assert rate.target == 300_000
    assert rate.on_loss(0.2) == 270_000  # 300k · (1 - 0.5 · 0.2)
    assert rate.on_loss(0.05) == 270_000  # 2-10 %: hold
    assert rate.on_loss(0.01) == round(270_000 * 1.08)
    assert rate.on_loss(0.0) == 300_000  # never above the maximum


def test_sustained_loss_goes_down_to_the_floor_and_no_further() -> None:
    rate = controller(floor=40_000)
    targets = [rate.on_loss(0.5) for _ in range(20)]
    assert targets == sorted(targets, reverse=True) and targets[-1] == 40_000
    assert rate.layer == VideoLayer(160, 120, 15)  # what 40 kbit/s pays for


def test_recovery_after_loss_climbs_back_to_the_maximum() -> None:
    rate = controller()
    for _ in range(10):
        rate.on_loss(0.3)
    low = rate.target
    targets = [rate.on_loss(0.0) for _ in range(60)]
    assert targets[0] > low and targets == sorted(targets) and targets[-1] == 300_000
    assert rate.layer == VideoLayer(320, 240, 15)


def test_tmmbr_and_remb_cap_the_target_until_lifted() -> None:
    rate = controller()
    assert rate.on_tmmbr(100_000) == 100_000
    assert rate.on_loss(0.0) == 100_000  # growth stops at the cap
    assert rate.on_remb(80_000) == 80_000  # the lower of the two
    assert rate.on_tmmbr(0) == rate.floor  # RFC 5104's 0 (pause) is taken as the floor: the call goes on
    rate.on_tmmbr(10**12)
    rate.on_remb(10**12)
    targets = [rate.on_loss(0.0) for _ in range(40)]
    assert targets[-1] == 300_000


def test_layers_step_down_with_the_target_and_up_only_with_room() -> None:
    layers = layers_for(320, 240, 15)
    assert layers == (
        VideoLayer(320, 240, 15),
        VideoLayer(320, 240, 7),
        VideoLayer(160, 120, 15),
        VideoLayer(160, 120, 7),
    )
    assert [layer.needs for layer in layers] == sorted((layer.needs for layer in layers), reverse=True)
    rate = controller(floor=10_000)
    seen = [rate.layer]
    while rate.target > rate.floor:
        rate.on_loss(0.4)
        if rate.layer != seen[-1]:
            seen.append(rate.layer)
        assert rate.layer.needs <= rate.target or rate.layer == layers[-1]
    assert seen == list(layers)
    # Going up: the full size comes back only when the target clears its need by 25 %.
    rate = controller(start=layers[0].needs - 1)
    assert rate.layer == layers[1]
    while rate.target < rate.maximum:
        rate.on_loss(0.0)
        assert (rate.layer == layers[0]) == (rate.target >= layers[0].needs * 1.25), rate.target
    # A TMMBR lowers the target, and the layer with it, at once.
    rate.on_tmmbr(layers[0].needs - 1)
    assert rate.layer == layers[1]


@pytest.mark.parametrize("bitrate", [0, 1, 64_000, 131_071, 300_000, 2_500_000, 123_456_789])
def test_tmmbr_tmmbn_and_remb_round_trip(bitrate: int) -> None:
    packets = parse_compound(
        build_compound([ReceiverReport(1), tmmbr(1, 2, bitrate, 60), remb(1, bitrate, [9, 2]), tmmbn(1, 2, bitrate)])
    )
    feedback = read_feedback(packets, 2)
    assert feedback.tmmbr is not None and feedback.remb is not None
    # Mantissa and exponent keep 17 (TMMBR) and 18 (REMB) significant bits.
    assert bitrate * (1 - 2**-16) <= feedback.tmmbr[0] <= bitrate and feedback.tmmbr[1:] == (60, 1)
    assert bitrate * (1 - 2**-17) <= feedback.remb <= bitrate
    assert read_feedback(packets, 3).tmmbr is None and read_feedback(packets, 3).remb is None


def test_malformed_tmmbr_and_remb_are_counted() -> None:
    broken = [
        GenericRtcpPacket(205, 3, b"\x00" * 8 + b"\x00" * 5),  # TMMBR FCI not a multiple of 8
        GenericRtcpPacket(206, 15, b"\x00" * 8 + b"REMB" + bytes((5, 0, 0, 0)) + b"\x00" * 4),  # 5 SSRCs, 1 given
    ]
    feedback = read_feedback(broken, 0)
    assert feedback.malformed == 2 and feedback.tmmbr is None and feedback.remb is None


def test_reports_count_loss_over_a_second_not_per_early_report() -> None:
    rate = controller()
    assert rate.on_report(1000, 0, 0.0) == 300_000  # the baseline
    # Early feedback: reports a few packets apart, one loss in five, within the same second: nothing yet.
    assert rate.on_report(1005, 1, 0.1) == 300_000
    assert rate.on_report(1010, 2, 0.2) == 300_000
    # A second on: 100 packets expected, 2 lost since the baseline (2 %): held, not cut.
    assert rate.on_report(1100, 2, 1.0) == 300_000
    # The next second loses 30 of 100: cut by 15 %.
    assert rate.on_report(1200, 32, 2.0) == 255_000
    # Duplicates can make the count negative (RFC 3550 6.4.1): that is no loss, and the target grows.
    assert rate.on_report(1300, 20, 3.0) == 275_400
    # A sequence number going back (a new sender SSRC on the peer's side): a new baseline, no change.
    assert rate.on_report(5, 0, 4.0) == 275_400
    assert rate.on_report(105, 50, 5.0) < 275_400


def test_a_growing_queue_cuts_the_target_to_what_got_through_before_any_loss() -> None:
    """A deep-buffered bottleneck of 200 kbit/s under a 600 kbit/s sender: no loss, only the round trip grows."""
    rate = controller(600_000)
    sent, seq, rtt = 0, 0, 0.05
    targets = []
    for second in range(12):
        # Each second 200 kbit of our packets (25 kB, 25 packets of 1000 bytes) got through; the rest queues.
        seq += 25
        sent += 25_000
        targets.append(rate.on_report(seq, 0, float(second), rtt=rtt, acked_bytes=sent))
        if rate.target > 200_000:
            rtt += (rate.target - 200_000) / 200_000  # the queue grows by the excess
    assert rate.overuses >= 1 and rate.queue_delay > 0.1
    assert targets[0] == 600_000  # the first report is only the baseline
    assert targets[-1] <= 0.85 * 200_000 + 1  # 0.85 times what got through, not a loss-style halving
    assert min(targets) >= rate.floor


def test_no_growth_while_the_queue_drains_and_growth_again_once_it_has() -> None:
    rate = controller(600_000)
    rate.on_report(0, 0, 0.0, rtt=0.05, acked_bytes=0)
    rate.on_report(25, 0, 1.0, rtt=0.4, acked_bytes=25_000)
    rate.on_report(50, 0, 2.0, rtt=0.5, acked_bytes=50_000)
    cut = rate.target
    assert cut == 170_000
    # Draining: 80 ms of queue left (over half the limit), no loss: the target holds.
    assert rate.on_report(75, 0, 3.0, rtt=0.13, acked_bytes=75_000) == cut
    assert rate.on_report(100, 0, 4.0, rtt=0.13, acked_bytes=100_000) == cut
    # Drained: growth by the loss rule again.
    assert rate.on_report(125, 0, 5.0, rtt=0.05, acked_bytes=125_000) == round(cut * 1.08)


def test_one_report_held_up_on_its_way_is_not_a_queue() -> None:
    """A busy machine may hold one report for a few hundred milliseconds; only a queue that lasts counts."""
    rate = controller(600_000)
    for second in range(6):
        rtt = 0.6 if second == 3 else 0.02
        rate.on_report(second * 25, 0, float(second), rtt=rtt, acked_bytes=second * 25_000)
    assert rate.overuses == 0 and rate.target == 600_000


def test_a_longer_path_becomes_the_base_after_the_window() -> None:
    """A call that moved to a path with a longer round trip is not held down as if it queued for ever."""
    rate = controller(600_000)
    rate.on_report(0, 0, 0.0, rtt=0.02, acked_bytes=0)
    for second in range(1, 40):
        rate.on_report(second * 25, 0, float(second), rtt=0.3, acked_bytes=second * 25_000)
    assert rate.queue_delay == 0.0
    assert rate.target > 0.85 * 200_000


def test_a_flood_of_reports_keeps_a_bounded_history_of_round_trips() -> None:
    """A peer may send reports as fast as it likes, each with a longer round trip: memory stays bounded."""
    rate = controller(600_000)
    for n in range(20_000):
        rate.on_report(n, 0, n * 0.001, rtt=0.02 + n * 1e-6, acked_bytes=n * 1000)
    assert len(rate._rtts) <= 256


def test_reports_without_round_trip_or_bytes_keep_the_loss_rule() -> None:
    rate = controller()
    rate.on_report(1000, 0, 0.0)
    assert rate.on_report(1100, 30, 1.0) == 255_000  # 30 % loss: cut by 15 %
    assert rate.overuses == 0


def test_a_session_honours_the_peers_tmmbr_and_remb_and_answers_with_tmmbn() -> None:
    """A real VideoSession sending to a bare socket that plays the peer: its TMMBR and REMB bound the target,
    the TMMBR is answered with a TMMBN naming the peer, and the same requests from a stranger change nothing."""
    peer, stranger = bound(), bound()
    session = VideoSession(bound(), params(peer.getsockname()[1]), PatternSource(320, 240), fps=15)
    peer.settimeout(0.2)
    session.start()
    try:
        ours = session._sender.ssrc
        address = session.local_address
        for sender in (stranger, peer):
            sender.sendto(build_compound([ReceiverReport(77), tmmbr(77, ours, 100_000)]), address)
        rate = session.rate
        assert rate is not None
        wait_for(lambda: rate.target == 100_000)
        answers: list[GenericRtcpPacket] = []
        end = time.monotonic() + 30
        while not answers and time.monotonic() < end:
            try:
                data = peer.recv(2048)
            except TimeoutError:
                continue
            if is_rtcp(data):
                answers += [
                    p
                    for p in parse_compound(data, require_report_first=False)
                    if isinstance(p, GenericRtcpPacket) and (p.packet_type, p.count) == (205, 4)
                ]
        assert answers, "no TMMBN came back"
        assert answers[0].body[8:12] == (77).to_bytes(4, "big")  # the tuple names the TMMBR's sender
        peer.sendto(build_compound([ReceiverReport(77), remb(77, 80_000, [ours])]), address)
        stranger.sendto(build_compound([ReceiverReport(78), remb(78, 40_000, [ours])]), address)
        # Taken after the stranger's (one socket, in order): when it shows, the stranger's was read and refused.
        peer.sendto(build_compound([ReceiverReport(77), tmmbr(77, ours, 120_000)]), address)
        wait_for(lambda: rate.tmmbr == 120_000)
        assert session.quality().target_bitrate_kbps == 80.0 and rate.remb == 80_000
        assert session.quality().send_width == 320 and session.quality().send_fps == 7  # 80 kbit/s: half the rate
    finally:
        session.stop()
        peer.close()
        stranger.close()


def test_a_flood_of_the_same_tmmbr_is_answered_with_reports_not_a_packet_each() -> None:
    peer = bound()
    session = VideoSession(bound(), params(peer.getsockname()[1]), PatternSource(320, 240), fps=15)
    peer.settimeout(0.2)
    session.start()
    try:
        request = build_compound([ReceiverReport(77), tmmbr(77, session._sender.ssrc, 100_000)])
        for _ in range(200):  # fits a loopback socket's buffer (a busy machine may still drop some: no matter)
            peer.sendto(request, session.local_address)
        rate = session.rate
        assert rate is not None
        wait_for(lambda: rate.target == 100_000)
        # Marker: a request after the flood (sent until it is seen); once it is applied, the flood has been read.
        marker = build_compound([ReceiverReport(77), remb(77, 90_000, [session._sender.ssrc])])

        def marked() -> bool:
            peer.sendto(marker, session.local_address)
            return rate.target == 90_000

        wait_for(marked)
        session.stop()  # then what it sent is all in the peer's socket
        answers = 0
        while True:
            try:
                data = peer.recv(2048)
            except TimeoutError:
                break
            if is_rtcp(data):
                answers += sum(
                    1
                    for p in parse_compound(data, require_report_first=False)
                    if isinstance(p, GenericRtcpPacket) and (p.packet_type, p.count) == (205, 4)
                )
        assert 1 <= answers < 50, answers  # one at once, then one per report at most
    finally:
        session.stop()
        peer.close()


def test_a_lower_maximum_from_a_new_offer_answer_takes_over_at_once() -> None:
    rate = controller()
    assert rate.limit(128_000) == 128_000
    assert rate.layer == VideoLayer(320, 240, 15)  # 115 kbit/s still pays for the full picture
    assert rate.limit(20_000) == 20_000 and rate.floor == 20_000
    rate.limit(300_000)
    assert rate.floor == 30_000 and rate.target == 30_000  # growth comes from reports, not from the new maximum
    assert rate.on_loss(0.0) == round(30_000 * 1.08)


def test_the_peers_bandwidth_line_bounds_the_session() -> None:
    session = VideoSession(
        bound(), replace(params(9), max_bitrate=128_000), PatternSource(320, 240), fps=15, bitrate=300_000
    )
    try:
        assert session.rate is not None and session.rate.maximum == 128_000
        session.update(replace(params(9), max_bitrate=None))
        assert session.rate.maximum == 300_000
    finally:
        session.stop()
