"""The one-slot picture store between video threads and a window: newest kept, older dropped, one wake-up each."""

from __future__ import annotations

import av
import numpy as np

from softphone.media.video_sources import pattern_planes
from softphone.ua import VideoPicture, VideoPictures


def picture(call_id: str, n: int) -> VideoPicture:
    return VideoPicture(call_id, "remote", 2, 1, bytes([n]) * 6)


def test_a_picture_not_taken_is_replaced_and_the_listener_hears_once() -> None:
    pictures = VideoPictures()
    heard: list[tuple[str, str]] = []
    unsubscribe = pictures.subscribe(lambda call_id, kind: heard.append((call_id, kind)))
    for n in range(5):
        pictures.put(picture("c1", n))
    assert heard == [("c1", "remote")]  # one wake-up for five pictures: the window was busy
    taken = pictures.take("c1", "remote")
    assert taken is not None and taken.rgb == bytes([4]) * 6  # the newest; the four before were dropped
    assert pictures.take("c1", "remote") is None
    pictures.put(picture("c1", 5))
    assert heard == [("c1", "remote")] * 2  # the slot was empty again: a new wake-up
    pictures.put(picture("c2", 0))
    pictures.forget("c1")
    assert pictures.take("c1", "remote") is None and pictures.take("c2", "remote") is not None
    unsubscribe()
    pictures.put(picture("c3", 0))
    assert len(heard) == 3


def test_without_a_listener_nothing_is_converted() -> None:
    pictures = VideoPictures()
    frame = av.VideoFrame.from_ndarray(pattern_planes(7, 320, 240), format="yuv420p")
    pictures.offer("c1", "local", frame)
    assert pictures.converted == 0 and pictures.take("c1", "local") is None
    pictures.subscribe(lambda *_: None)
    pictures.offer("c1", "local", frame)
    got = pictures.take("c1", "local")
    assert got is not None and (got.width, got.height, len(got.rgb)) == (320, 240, 320 * 240 * 3)
    rgb = np.frombuffer(got.rgb, dtype=np.uint8).reshape(240, 320, 3)
    assert rgb.max() > 200 and rgb.min() < 60  # the pattern's white and black code blocks survived


def test_a_huge_picture_from_the_peer_is_scaled_down_before_conversion() -> None:
    pictures = VideoPictures()
    pictures.subscribe(lambda *_: None)
    width, height = 4096, 2304  # what a hostile or careless sender may announce in its bitstream
    frame = av.VideoFrame.from_ndarray(np.zeros((height * 3 // 2, width), dtype=np.uint8), format="yuv420p")
    pictures.offer("c1", "remote", frame)
    got = pictures.take("c1", "remote")
    assert got is not None and got.width * got.height <= 1920 * 1080
    assert abs(got.width / got.height - width / height) < 0.01 and len(got.rgb) == got.width * got.height * 3
