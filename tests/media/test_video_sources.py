"""Video sources (the frame-counting test pattern, a video file) and the Matroska recorder."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest

from softphone.media.errors import MediaError
from softphone.media.h264 import is_idr
from softphone.media.video_codec import VideoDecoder, VideoEncoder, VideoRecorder
from softphone.media.video_sources import FileSource, PatternSource, open_source, pattern_planes, read_counter
from softphone.media.vp8 import is_keyframe
from tests.video_check import read_recording


@pytest.mark.parametrize(("width", "height"), [(320, 240), (640, 480), (176, 144)])
def test_counter_reads_back_from_the_raw_pattern(width: int, height: int) -> None:
    for index in (0, 1, 255, 4097, 65535, 65536 + 3):
        planes = pattern_planes(index, width, height)
        assert planes.shape == (height * 3 // 2, width)
        assert read_counter(planes[:height]) == index % 65536


def test_counter_survives_vp8_and_garbage_does_not_read_as_one() -> None:
    encoder, decoder = VideoEncoder("VP8", 320, 240, 15, 300_000), VideoDecoder("VP8")
    source = PatternSource()
    read = []
    for index in range(20):
        for data in encoder.encode(source.next_frame(index), keyframe=index == 10):
            for picture in decoder.decode(data):
                read.append(read_counter(picture.to_ndarray(format="yuv420p")[:240]))
    assert read == list(range(20))
    noise = np.random.default_rng(1).integers(0, 256, (240, 320), dtype=np.uint8)
    assert read_counter(noise) is None
    assert read_counter(np.zeros((240, 320), np.uint8)) is None
    assert read_counter(np.zeros((10, 10), np.uint8)) is None


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_forced_keyframe(codec: str) -> None:
    encoder = VideoEncoder(codec, 320, 240, 15, 300_000)
    source = PatternSource()
    frames = [b"".join(encoder.encode(source.next_frame(i), keyframe=i == 5)) for i in range(8)]
    keys = [is_keyframe(f) if codec == "VP8" else is_idr(f) for f in frames]
    assert keys == [True, False, False, False, False, True, False, False]


def test_decoder_takes_garbage_and_decodes_the_next_keyframe() -> None:
    decoder = VideoDecoder("VP8")
    assert decoder.decode(b"\x00\x01\x02garbage" * 10) == []
    assert decoder.decode(b"") == []
    keyframe = VideoEncoder("VP8", 320, 240, 15, 300_000).encode(PatternSource().next_frame(7))[0]
    [picture] = decoder.decode(keyframe)
    assert read_counter(picture.to_ndarray(format="yuv420p")[:240]) == 7


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(MediaError):
        PatternSource(321, 240)
    with pytest.raises(MediaError):
        PatternSource(32, 24)


def write_clip(path: Path, frames: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx", rate=15)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 15)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern_planes(index, 160, 120), format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_file_source_scales_and_loops(tmp_path: Path) -> None:
    clip = tmp_path / "clip.webm"
    write_clip(clip, 5)
    source = open_source(str(clip), 320, 240)
    assert isinstance(source, FileSource)
    counters = []
    for index in range(12):
        frame = source.next_frame(index)
        assert frame is not None and (frame.width, frame.height) == (320, 240)
        counters.append(read_counter(frame.to_ndarray(format="yuv420p")[:240]))
    source.close()
    source.close()
    assert counters == [0, 1, 2, 3, 4] * 2 + [0, 1]


def test_missing_or_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot open"):
        FileSource(tmp_path / "none.mkv")
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x1a\x45\xdf\xa3 not really")
    with pytest.raises(MediaError):
        FileSource(junk)


def test_recorder_starts_at_a_keyframe_and_writes_what_it_got(tmp_path: Path) -> None:
    encoder = VideoEncoder("VP8", 320, 240, 15, 300_000)
    source = PatternSource()
    recorder = VideoRecorder(tmp_path / "out.mkv")
    encoded = [encoder.encode(source.next_frame(i), keyframe=i == 3)[0] for i in range(10)]
    for index, data in enumerate(encoded[1:], start=1):  # the first key frame is missing: start at the next
        recorder.write(data, 1000 + index * 6000, is_keyframe(data), (320, 240))
    recorder.close()
    got = read_recording(tmp_path / "out.mkv")
    assert got.counters == list(range(3, 10)) and recorder.frames == 7


def test_recorder_refuses_other_formats_and_unwritable_places(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        VideoRecorder(tmp_path / "out.wav")
    (tmp_path / "file").write_text("x")
    with pytest.raises(MediaError):
        VideoRecorder(tmp_path / "file" / "out.mkv")


def test_a_still_picture_is_a_source(tmp_path: Path) -> None:
    picture = tmp_path / "still.png"
    with av.open(str(picture), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 320, 240, "rgb24"
        frame = av.VideoFrame.from_ndarray(pattern_planes(5, 320, 240), format="yuv420p")
        for packet in stream.encode(frame.reformat(format="rgb24")):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    source = open_source(str(picture), 320, 240)
    frames = [source.next_frame(i) for i in range(4)]
    source.close()
    assert [read_counter(f.to_ndarray(format="yuv420p")[:240]) for f in frames if f is not None] == [5, 5, 5, 5]


def test_cameras_listed_are_the_kernels_capture_nodes() -> None:
    from softphone.media.video_sources import list_cameras

    sysfs = Path("/sys/class/video4linux")
    expected = (
        sorted(
            f"/dev/{entry.name}"
            for entry in sysfs.iterdir()
            if entry.name.startswith("video") and (entry / "index").read_text().strip() in ("", "0")
        )
        if sysfs.is_dir()
        else []
    )
    assert sorted(camera.device for camera in list_cameras()) == expected


def test_camera_listing_reads_names_and_skips_metadata_nodes(tmp_path: Path) -> None:
    from softphone.media.video_sources import Camera, list_cameras

    # The shape sysfs gives a UVC camera: video0 the pictures, video1 its metadata node, and a second camera.
    for node, name, index in (("video0", "HD Webcam", 0), ("video1", "HD Webcam", 1), ("video10", "Capture", 0)):
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(f"{index}\n")
    (tmp_path / "v4l-subdev0").mkdir()
    assert list_cameras(tmp_path) == [Camera("/dev/video0", "HD Webcam"), Camera("/dev/video10", "Capture")]
    assert list_cameras(tmp_path / "missing") == []


def test_no_camera_is_a_clear_error_and_pyavs_v4l2_is_reported_as_it_is() -> None:
    from softphone.media.video_sources import CameraSource, camera_input_available, list_cameras

    assert camera_input_available() == ("v4l2" in av.formats_available or "video4linux2" in av.formats_available)
    if not list_cameras():
        with pytest.raises(MediaError, match=r"^no camera found$"):
            open_source("camera")
    with pytest.raises(MediaError, match="no camera found at /dev/no-such-camera"):
        open_source("camera:/dev/no-such-camera")
    # A device that is no camera: without v4l2 in this FFmpeg that is said first, else the capture fails.
    with pytest.raises(MediaError, match="no v4l2 input" if not camera_input_available() else "cannot capture"):
        CameraSource("/dev/null")
