"""STUN and ChannelData framed on a stream (RFC 8656 12.5), sans-I/O: reassembly from pieces of any size, the
padding, and garbage from a server (other leading bits, no magic cookie, reserved channels, frames too long),
which costs a bounded buffer and a clear error. Also the TURN client's stream mode: padded ChannelData and
requests sent once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.stun import Attr, Class, Method, StunMessage
from softphone.stun.stream import MAX_FRAME, FrameReader, StreamFramingError, padded
from softphone.stun.transaction import Send
from softphone.stun.turn import STREAM_SETUP, Failed, TurnClient, channel_data

PEER = ("203.0.113.20", 6000)


def stun_frame(payload: bytes) -> bytes:
    return StunMessage(Method.DATA, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, PEER).add(Attr.DATA, payload).encode()


frames = st.lists(
    st.one_of(
        st.tuples(st.just("stun"), st.binary(max_size=600)),
        st.tuples(st.integers(0x4000, 0x4FFF), st.binary(max_size=600)),
    ),
    max_size=8,
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@settings(max_examples=200, deadline=None)
@given(frames, st.lists(st.integers(0, 10_000), max_size=20))
def test_frames_come_out_whole_however_the_stream_is_cut(items: list[tuple[object, bytes]], cuts: list[int]) -> None:
    wire, expected = b"", []
    for kind, payload in items:
        if kind == "stun":
            frame = stun_frame(payload)
            wire, expected = wire + frame, [*expected, frame]
        else:
            assert isinstance(kind, int)
            wire += channel_data(kind, payload, stream=True)
            expected.append(channel_data(kind, payload))
    reader = FrameReader()
    out: list[bytes] = []
    for piece in split(wire, cuts):
        out += reader.feed(piece)
    assert out == expected
    assert reader.buffered == 0


def test_channel_data_is_padded_to_four_bytes_on_a_stream_only() -> None:
    assert channel_data(0x4000, b"abcde", stream=True) == b"\x40\x00\x00\x05abcde\0\0\0"
    assert channel_data(0x4000, b"abcde") == b"\x40\x00\x00\x05abcde"
    assert [padded(n) for n in (0, 1, 4, 5, 8)] == [0, 4, 4, 8, 8]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x80\x01\x00\x00" + bytes(16), "a frame starting with 0x80, neither STUN nor ChannelData"),
        (b"GET / HTTP/1.1\r\n\r\n", "a frame of 21540 bytes, more than"),  # "GE": channel 0x4745
        (b"\x50\x00\x00\x04abcd", "reserved channel number 0x5000"),
        (b"\x00\x01\x00\x05" + bytes(16), "a STUN message length of 5, not a multiple of 4"),
        (b"\x00\x01\x00\x00" + bytes(16), "a STUN header without the magic cookie"),
        (b"\x40\x00\xff\xff", f"more than the {MAX_FRAME} accepted"),
        (b"\x00\x17\xff\xfc\x21\x12\xa4\x42" + bytes(12), f"more than the {MAX_FRAME} accepted"),
    ],
    ids=["leading-bits", "http", "reserved-channel", "odd-length", "no-cookie", "long-channel", "long-stun"],
)
def test_garbage_breaks_the_stream_with_a_clear_error(data: bytes, words: str) -> None:
    reader = FrameReader()
    with pytest.raises(StreamFramingError, match=words):
        reader.feed(data)
    assert reader.buffered == 0
    with pytest.raises(StreamFramingError, match=words):  # no frame can be found after garbage
        reader.feed(channel_data(0x4000, b"ok", stream=True))


def test_an_overlong_frame_is_refused_at_its_header_not_after_its_bytes() -> None:
    reader = FrameReader()
    with pytest.raises(StreamFramingError):
        reader.feed(b"\x40\x01\x20\x00")  # 8192 bytes announced: nothing more is read into memory


def test_good_frames_before_garbage_are_given_first() -> None:
    reader = FrameReader()
    good = channel_data(0x4001, b"media", stream=True)
    assert reader.feed(good + b"\xff\xff\xff\xff") == [channel_data(0x4001, b"media")]
    with pytest.raises(StreamFramingError):
        reader.feed(b"")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=10))
def test_arbitrary_bytes_cost_at_most_one_frame_and_raise_only_framing_errors(pieces: list[bytes]) -> None:
    reader = FrameReader()
    for piece in pieces:
        try:
            for frame in reader.feed(piece):
                assert 4 <= len(frame) <= MAX_FRAME
        except StreamFramingError:
            return
        assert reader.buffered < MAX_FRAME


def test_over_a_stream_the_client_sends_each_request_once_and_pads_channel_data() -> None:
    client = TurnClient("alice", "pw", stream=True)
    effects = client.start(0.0)
    assert len([e for e in effects if isinstance(e, Send)]) == 1
    deadline = client.next_deadline
    assert deadline == pytest.approx(STREAM_SETUP.timeout)
    assert client.on_timer(deadline - 0.01) == []  # RFC 8489 6.2.2: no retransmission over TCP
    (failed,) = client.on_timer(deadline)
    assert isinstance(failed, Failed) and "did not answer ALLOCATE (1 requests in 3.50 s)" in str(failed.error)
