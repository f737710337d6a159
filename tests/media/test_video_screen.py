"""Screen sharing: a real X server (Xvfb) showing the test pattern (ImageMagick's ``display``), grabbed by
``ScreenSource`` through FFmpeg's x11grab, the frame counter read back from the grabbed picture."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from benchmarks.gui import dies_with_parent, free_display
from softphone.media.errors import MediaError
from softphone.media.video_sources import ScreenSource, open_source, pattern_planes, read_counter

COUNTER = 1234


def wait_until(condition: object, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[str]:
    """A 640x480 X screen of our own showing pattern frame COUNTER at its top left corner."""
    for tool, package in (("Xvfb", "xvfb"), ("display", "imagemagick")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install {package}")
    number = free_display()
    server = subprocess.Popen(
        dies_with_parent(["Xvfb", f":{number}", "-screen", "0", "640x480x24", "-nolisten", "tcp"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    viewer = None
    try:
        wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists())
        picture = tmp_path / "pattern.png"
        with av.open(str(picture), "w", format="image2") as container:
            stream = container.add_stream("png")
            stream.width, stream.height, stream.pix_fmt = 640, 480, "rgb24"
            frame = av.VideoFrame.from_ndarray(pattern_planes(COUNTER, 640, 480), format="yuv420p")
            for packet in stream.encode(frame.reformat(format="rgb24")):
                container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        viewer = subprocess.Popen(
            dies_with_parent(["display", "-display", f":{number}", "-geometry", "+0+0", str(picture)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield f":{number}"
    finally:
        for proc in (viewer, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_screen_is_grabbed_scaled_and_shows_what_is_on_it(screen: str) -> None:
    source = open_source(f"screen:{screen}", 320, 240, 15)
    assert isinstance(source, ScreenSource)
    try:

        def shows_the_pattern() -> bool:
            frame = source.next_frame(0)
            return frame is not None and read_counter(frame.to_ndarray(format="yuv420p")[:240]) == COUNTER

        wait_until(shows_the_pattern)
        frame = source.next_frame(1)
        assert frame is not None and (frame.width, frame.height, frame.format.name) == (320, 240, "yuv420p")
        assert source.next_frame(2) is not frame  # each tick its own frame object
    finally:
        source.close()
        source.close()


def test_a_screen_that_is_not_there_is_a_clear_error() -> None:
    with pytest.raises(MediaError, match="cannot capture the screen"):
        ScreenSource(f":{free_display()}")
