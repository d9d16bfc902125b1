"""fasstream.data: video I/O, clips, the layout CSV, OULU-NPU lists and landmark geometry."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fasstream.data import faces
from fasstream.data.oulu import ProtocolError, oulu_records, oulu_videos, parse_video_id, protocol_file
from fasstream.data.records import VideoRecord, read_layout_csv, write_layout_csv
from fasstream.data.video import VideoError, clip_starts, read_video, sample_clips, write_video


def moving_gradient(n=12, height=48, width=64) -> np.ndarray:
    """Smooth frames (a colour gradient drifting right) that compress well."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = [np.stack([120 + 100 * np.sin((xx + 2 * i) / 9), 4 * yy, np.full(xx.shape, 128)], axis=-1)
              for i in range(n)]
    return np.clip(frames, 0, 255).astype(np.uint8)


# --- video ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_write_read_round_trip(tmp_path, codec):
    frames = moving_gradient()
    path = write_video(tmp_path / "clip.mp4", frames, fps=25, codec=codec)
    decoded, fps = read_video(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert fps == pytest.approx(25)
    assert np.abs(decoded.astype(int) - frames).mean() < 4


def test_read_from_bytes_matches_path(tmp_path):
    path = write_video(tmp_path / "clip.mp4", moving_gradient(), fps=30)
    from_path, fps_path = read_video(path)
    from_bytes, fps_bytes = read_video(path.read_bytes())
    np.testing.assert_array_equal(from_path, from_bytes)
    assert fps_path == fps_bytes == pytest.approx(30)
    assert read_video(path.read_bytes(), max_frames=5)[0].shape[0] == 5


def test_unreadable_input_raises_video_error(tmp_path):
    with pytest.raises(VideoError, match="bytes in memory"):
        read_video(b"definitely not a video" * 20)
    with pytest.raises(VideoError, match="empty"):
        read_video(b"")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoError, match="empty.mp4"):
        read_video(empty)
    with pytest.raises(VideoError, match="no such file"):
        read_video(tmp_path / "absent.mp4")


def test_reproducible_writes_are_byte_identical(tmp_path):
    frames = moving_gradient(n=30)
    paths = [write_video(tmp_path / f"{k}.mp4", frames, 25, reproducible=True) for k in range(2)]
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_write_rejects_odd_size_and_unknown_codec(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 15, 16, 3), np.uint8), 25)
    with pytest.raises(ValueError, match="unknown codec"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 16, 16, 3), np.uint8), 25, codec="vp9")


@given(st.integers(min_value=0, max_value=400))
def test_clip_starts(n_frames):
    if n_frames < 10:
        with pytest.raises(ValueError, match="too short"):
            clip_starts(n_frames)
        return
    starts = clip_starts(n_frames)
    assert starts[0] == 0 and all(b - a == 10 for a, b in zip(starts, starts[1:]))
    assert starts[-1] + 9 < n_frames <= starts[-1] + 19  # the last clip fits and no further one does


def test_sample_clips_picks_every_third_frame():
    frames = np.arange(35)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    clips = sample_clips(frames)
    assert clips.shape == (3, 4, 2, 2, 3)
    np.testing.assert_array_equal(clips[:, :, 0, 0, 0], [[0, 3, 6, 9], [10, 13, 16, 19], [20, 23, 26, 29]])


# --- layout CSV ----------------------------------------------------------------------------------

def test_layout_csv_round_trip(tmp_path):
    records = [
        VideoRecord(tmp_path / "v" / "a.mp4", True, "live", "train", "v/a", "s1", tmp_path / "v" / "a.npy"),
        VideoRecord(tmp_path / "v" / "b.mp4", False, "print", "dev", "v/b", "s2", None),
        VideoRecord(tmp_path / "c.mp4", False, "replay", "test", "c", "", None, family="replay-phone"),
    ]
    assert [r.family for r in records] == ["live", "print", "replay-phone"]  # the default is the species
    csv_path = write_layout_csv(records, tmp_path / "dataset.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "path,label,species,split,subject,landmarks,family"
    assert lines[1] == "v/a.mp4,live,live,train,s1,v/a.npy,live"
    assert lines[3] == "c.mp4,attack,replay,test,,,replay-phone"
    assert read_layout_csv(csv_path) == [
        VideoRecord(r.path.resolve(), r.live, r.species, r.split, r.video_id, r.subject,
                    r.landmarks.resolve() if r.landmarks else None, r.family) for r in records]


def test_layout_csv_family_defaults_to_the_species(tmp_path):
    old = tmp_path / "old.csv"  # a CSV from before the family column
    old.write_text("path,label,species,split\na.mp4,live,live,train\nb.mp4,attack,print,dev\n")
    assert [r.family for r in read_layout_csv(old)] == ["live", "print"]
    blank = tmp_path / "blank.csv"
    blank.write_text("path,label,species,split,family\na.mp4,live,live,train,\nb.mp4,attack,print,dev,\n"
                     "c.mp4,attack,print,test,print-curved\n")
    assert [r.family for r in read_layout_csv(blank)] == ["live", "print", "print-curved"]


def test_write_layout_csv_rejects_a_bad_family(tmp_path):
    rec = VideoRecord(tmp_path / "a.mp4", False, "print", "test", "a", "", None, family="runs/../x")
    with pytest.raises(ValueError, match=r"record 0 \(a\): family 'runs/../x' is not a plain name"):
        write_layout_csv([rec], tmp_path / "dataset.csv")
    assert not (tmp_path / "dataset.csv").exists()


FAMILY_HEADER = "path,label,species,split,family\n"


@pytest.mark.parametrize("text, message", [
    ("path,label,split\na.mp4,live,train\n", "missing column"),
    ("path,label,species,split\na.mp4,real,live,train\n", "row 2: label 'real'"),
    ("path,label,species,split\na.mp4,live,live,train\nb.mp4,attack,print,val\n", "row 3: split 'val'"),
    ("path,label,species,split\na.mp4,attack,live,train\n", "row 2: label 'attack' does not match"),
    ("path,label,species,split\na.mp4,live,live,train\na.mp4,live,live,dev\n", "row 3: path 'a.mp4' already"),
    ("path,label,species,split\n,live,live,train\n", "row 2: the path cell is empty"),
    ("path,label,species,split\n", "no rows"),
    (FAMILY_HEADER + "a.mp4,attack,print,train,print flat\n", "row 2: family 'print flat' is not a plain"),
    (FAMILY_HEADER + "a.mp4,attack,print,train,live\n", "row 2: family 'live' does not fit species 'print'"),
    (FAMILY_HEADER + "a.mp4,live,live,train,print-flat\nb.mp4,attack,print,dev,print-flat\n",
     "row 3: family 'print-flat' has species 'print' here but 'live' in row 2"),
    (FAMILY_HEADER + "a.mp4,attack,print,train,flat\nb.mp4,attack,replay,dev,flat\n",
     "row 3: family 'flat' has species 'replay' here but 'print' in row 2"),
])
def test_layout_csv_validation(tmp_path, text, message):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_layout_csv(csv_path)


def test_bona_fide_rows_may_name_their_renderer(tmp_path):
    """A second live family (e.g. the held-out live-mesh) is kept as such; blank cells are the species."""
    csv_path = tmp_path / "two-live.csv"
    csv_path.write_text(FAMILY_HEADER + "a.mp4,live,live,test,live-mesh\nb.mp4,live,live,test,\n"
                        "c.mp4,attack,print,test,\n")
    records = read_layout_csv(csv_path)
    assert [(r.live, r.family) for r in records] == [(True, "live-mesh"), (True, "live"), (False, "print")]
    assert read_layout_csv(write_layout_csv(records, tmp_path / "again.csv")) == records


# --- OULU-NPU ------------------------------------------------------------------------------------

@pytest.fixture
def oulu_root(tmp_path):
    """A miniature OULU-NPU tree: P1 and P3 fold 2 lists, tiny videos (one with landmarks), one listed video missing."""
    tiny = np.zeros((2, 16, 16, 3), np.uint8)
    lists = {
        "Protocol_1/Train.txt": ["+1,1_1_01_1", "-1,1_1_01_2", "-1,1_1_01_3", "-2,1_1_01_4", "-2,1_1_01_5",
                                 "+1,2_1_02_1", ""],
        "Protocol_3/Dev_2.txt": ["+1,1_3_21_1", "-1,1_3_21_5"],
    }
    for name, lines in lists.items():
        path = tmp_path / "Protocols" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    for split, ids in {"Train": ["1_1_01_1", "1_1_01_2", "1_1_01_3", "1_1_01_4", "1_1_01_5"],
                       "Dev": ["1_3_21_1", "1_3_21_5"]}.items():
        (tmp_path / f"{split}_files").mkdir()
        for video_id in ids:  # one as .mp4 to check the fallback from .avi
            suffix = ".mp4" if video_id == "1_1_01_3" else ".avi"
            write_video(tmp_path / f"{split}_files" / f"{video_id}{suffix}", tiny, 25, codec="mpeg4")
    np.save(tmp_path / "Train_files" / "1_1_01_1.npy", np.zeros((2, 68, 2), np.float32))
    return tmp_path


def test_oulu_protocol_1(oulu_root, caplog):
    with caplog.at_level(logging.WARNING, logger="fasstream.data.oulu"):
        records = oulu_records(oulu_root, 1, split="train")
    # the key of the label cache: the path under the root without suffix, as a CSV at the root gives
    assert [r.video_id for r in records] == [f"Train_files/1_1_01_{a}" for a in range(1, 6)]
    assert [r.species for r in records] == ["live", "print", "print", "display", "display"]
    assert [r.family for r in records] == ["live", "print-1", "print-2", "display-1", "display-2"]
    assert [r.live for r in records] == [True, False, False, False, False]
    assert {r.subject for r in records} == {"01"} and {r.split for r in records} == {"train"}
    assert records[2].path.suffix == ".mp4" and records[0].path.suffix == ".avi"
    assert records[0].landmarks == oulu_root / "Train_files" / "1_1_01_1.npy"  # the .npy beside the video
    assert [r.landmarks for r in records[1:]] == [None] * 4
    assert read_video(records[0].path)[0].shape == (2, 16, 16, 3)
    # the missing video is reported with its list line and the fix
    assert "1 of 6 videos listed in" in caplog.text and "Train.txt are not in" in caplog.text
    assert "(line 6 2_1_02_1); put <video_id>.avi or .mp4 there, or delete those lines" in caplog.text


def test_oulu_videos_of_every_folder(oulu_root, caplog):
    (oulu_root / "Dev_files" / "1_3_21_1.mp4").write_bytes(b"")  # .avi is taken before .mp4, as for lists
    (oulu_root / "Dev_files" / "notes.avi").write_bytes(b"")
    (oulu_root / "Test_files").mkdir()
    with caplog.at_level(logging.WARNING, logger="fasstream.data.oulu"):
        records = oulu_videos(oulu_root)
    assert [(r.video_id, r.split, r.path.suffix) for r in records] == [
        *((f"Train_files/1_1_01_{a}", "train", ".mp4" if a == 3 else ".avi") for a in range(1, 6)),
        ("Dev_files/1_3_21_1", "dev", ".avi"), ("Dev_files/1_3_21_5", "dev", ".avi")]
    assert "notes" in caplog.text and "not an OULU-NPU video id" in caplog.text
    with pytest.raises(FileNotFoundError, match="no OULU-NPU video"):
        oulu_videos(oulu_root / "Protocols")


def test_oulu_protocol_3_fold(oulu_root):
    records = oulu_records(oulu_root, 3, fold=2, split="dev")
    assert [(r.video_id, r.species, r.subject) for r in records] == [("Dev_files/1_3_21_1", "live", "21"),
                                                                      ("Dev_files/1_3_21_5", "display", "21")]
    assert protocol_file(oulu_root, 4, "test", fold=6).name == "Test_6.txt"


@pytest.mark.parametrize("kwargs, message", [
    ({"protocol": 5, "split": "train"}, "protocol must be 1, 2, 3 or 4"),
    ({"protocol": 3, "split": "train"}, "needs fold 1..6"),
    ({"protocol": 4, "fold": 7, "split": "train"}, "needs fold 1..6"),
    ({"protocol": 1, "fold": 1, "split": "train"}, "has no folds"),
    ({"protocol": 1, "split": "val"}, "split must be one of"),
])
def test_oulu_bad_arguments(oulu_root, kwargs, message):
    with pytest.raises(ValueError, match=message):
        oulu_records(oulu_root, **kwargs)


def test_oulu_missing_and_malformed_lists(oulu_root):
    with pytest.raises(ProtocolError, match="Test.txt does not exist"):
        oulu_records(oulu_root, 1, split="test")
    listing = oulu_root / "Protocols" / "Protocol_2" / "Dev.txt"
    listing.parent.mkdir()
    for line, message in [("+1;1_1_01_1", "Dev.txt:2: expected 'label,video_id'.*fix or delete the line"),
                          ("+1,1_1_1_1", "Dev.txt:2: .*not an OULU-NPU video id"),
                          ("+1,1_1_01_2", "Dev.txt:2: label \\+1 contradicts access digit 2.*fix the sign"),
                          ("-1,1_1_01_2", "Dev.txt:2: 1_1_01_2 is already listed at line 1")]:
        listing.write_text(f"-1,1_1_01_2\n{line}\n")
        with pytest.raises(ProtocolError, match=message):
            oulu_records(oulu_root, 2, split="dev")
    listing.write_text("\ufeff+1,1_1_30_1\r\n")  # a byte-order mark and CRLF line ends are read
    with pytest.raises(FileNotFoundError, match="Dev_files"):
        oulu_records(oulu_root, 2, split="dev")


def test_parse_video_id():
    assert parse_video_id("6_3_55_5") == {"phone": 6, "session": 3, "subject": 55, "access": 5}
    for bad in ["7_1_01_1", "1_1_56_1", "1_1_01_6", "1_1_01"]:
        with pytest.raises(ValueError):
            parse_video_id(bad)


# --- landmark geometry ---------------------------------------------------------------------------

def test_mirror_order_is_an_involution_and_flip_keeps_sides():
    assert sorted(faces.MIRROR) == list(range(68))
    np.testing.assert_array_equal(faces.MIRROR[faces.MIRROR], np.arange(68))
    image, points = faces.source_faces()["astronaut"]
    flipped_image, flipped = faces.flip_face(image, points)
    assert flipped[0, 0] < flipped[16, 0] and flipped[36, 0] < flipped[45, 0]  # jaw and eyes left to right
    back_image, back = faces.flip_face(flipped_image, flipped)
    np.testing.assert_array_equal(back_image, image)
    np.testing.assert_allclose(back, points)


def test_invert_map_matches_an_affine_warp():
    size = 64
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    forward = cv2.getRotationMatrix2D((30.0, 30.0), 7.0, 1.05)
    back = cv2.invertAffineTransform(forward).astype(np.float32)
    map_x = back[0, 0] * gx + back[0, 1] * gy + back[0, 2]
    map_y = back[1, 0] * gx + back[1, 1] * gy + back[1, 2]
    points = np.array([[20.0, 25.0], [40.5, 33.2], [30.0, 30.0]], np.float32)
    np.testing.assert_allclose(faces.invert_map(map_x, map_y, points), faces.project(forward, points), atol=1e-3)
