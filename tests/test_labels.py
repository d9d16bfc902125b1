"""Tests of fasstream.labels on real public-domain faces: landmarks, label maps, and the label cache command."""
import importlib.util

import matplotlib.cbook
import matplotlib.image
import numpy as np
import pytest
import skimage.data

from fasstream.cli import main as cli_main
from fasstream.labels import maps
from fasstream.data.video import write_video
from fasstream.labels.cache import fill_missing, label_track, load_labels
from fasstream.faces import geometry
from fasstream.faces.landmarks import (
    FAN_WEIGHTS, S3FD_WEIGHTS, DlibLandmarks, FaceAlignmentLandmarks, PrecomputedLandmarks, make_detector,
)


def grace_hopper() -> np.ndarray:
    return np.asarray(matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


FACES = {"astronaut": skimage.data.astronaut, "grace_hopper": grace_hopper}


@pytest.fixture(scope="module")
def dlib_detector():
    return DlibLandmarks()


@pytest.fixture(scope="module", params=list(FACES))
def face(request, dlib_detector):
    """(image, landmarks, crop box) of a real face."""
    image = FACES[request.param]()
    points = dlib_detector.detect(image)
    assert points is not None, f"dlib found no face in {request.param}"
    return image, points, geometry.face_crop_box(points)


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def inside(poly: np.ndarray, point) -> bool:
    """Even-odd ray test, independent of the code under test."""
    x, y = point
    hit = False
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


# --- landmarks ------------------------------------------------------------------------------------------------

def test_dlib_finds_68_points_on_the_face(face):
    image, points, _ = face
    assert points.shape == (68, 2) and points.dtype == np.float32
    h, w = image.shape[:2]
    assert (points >= 0).all() and (points[:, 0] < w).all() and (points[:, 1] < h).all()
    jaw_width = points[16, 0] - points[0, 0]
    assert jaw_width > 60  # a real face, not a speck
    assert points[8, 1] > points[30, 1] > points[27, 1]  # chin below nose tip below nose bridge
    assert points[36, 0] < points[30, 0] < points[45, 0]  # nose between the outer eye corners


def test_dlib_returns_none_without_a_face(dlib_detector):
    assert dlib_detector.detect(np.full((120, 160, 3), 127, np.uint8)) is None
    with pytest.raises(ValueError, match="frame_rgb"):
        dlib_detector.detect(np.zeros((10, 10), np.uint8))


def test_precomputed_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    track = rng.uniform(0, 200, (5, 68, 2)).astype(np.float32)
    track[2] = np.nan
    np.save(tmp_path / "vid.npy", track)
    frames = np.zeros((5, 8, 8, 3), np.uint8)

    single = make_detector("precomputed", path=tmp_path / "vid.npy")
    np.testing.assert_array_equal(single.track(frames), track)
    replay = [single.detect(f) for f in frames]
    assert replay[2] is None and np.array_equal(replay[4], track[4])
    with pytest.raises(IndexError, match="select"):
        single.detect(frames[0])

    folder = PrecomputedLandmarks(tmp_path)
    np.testing.assert_array_equal(folder.track(frames[:3], "vid"), track[:3])
    np.testing.assert_array_equal(folder.select("vid").detect(frames[0]), track[0])


def test_precomputed_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npy"):
        PrecomputedLandmarks(tmp_path / "nowhere.npy")
    np.save(tmp_path / "bad.npy", np.zeros((4, 68, 3)))
    with pytest.raises(ValueError, match=r"bad\.npy.*\(N, 68, 2\)"):
        PrecomputedLandmarks(tmp_path / "bad.npy").load()
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npy"):
        PrecomputedLandmarks(tmp_path / "junk.npy").load()
    folder = PrecomputedLandmarks(tmp_path)
    with pytest.raises(ValueError, match="video id"):
        folder.load()
    with pytest.raises(FileNotFoundError, match="other.npy"):
        folder.load("other")
    np.save(tmp_path / "short.npy", np.zeros((2, 68, 2)))
    with pytest.raises(ValueError, match="2 frames but the video has 3"):
        folder.track(np.zeros((3, 4, 4, 3), np.uint8), "short")


def test_face_alignment_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    with pytest.raises(FileNotFoundError) as err:
        FaceAlignmentLandmarks()
    assert FAN_WEIGHTS in str(err.value) and S3FD_WEIGHTS in str(err.value) and str(folder) in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        make_detector("face-alignment", face_detector="dlib")  # dlib's detector needs no S3FD weights
    assert FAN_WEIGHTS in str(err.value) and S3FD_WEIGHTS not in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("face_alignment") is not None, reason="face-alignment is installed")
def test_face_alignment_not_installed_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / FAN_WEIGHTS).touch()
    with pytest.raises(ImportError, match="pip install face-alignment"):
        FaceAlignmentLandmarks(face_detector="dlib")


def test_make_detector_rejects_unknown_names():
    with pytest.raises(ValueError, match="dlib, face-alignment, precomputed"):
        make_detector("mtcnn")


# --- crop box and maps ----------------------------------------------------------------------------------------

def test_face_crop_box_is_a_centred_square(face):
    _, points, (x0, y0, side) = face
    lo, hi = points.min(0), points.max(0)
    assert side == pytest.approx(1.3 * (hi - lo).max())
    np.testing.assert_allclose([x0 + side / 2, y0 + side / 2], (lo + hi) / 2, atol=1e-3)


def test_crop_frame_identity_and_padding():
    image = skimage.data.astronaut()
    np.testing.assert_array_equal(geometry.crop_frame(image, (0, 0, 512), out=512), image)
    grey = np.full((100, 100, 3), 200, np.uint8)
    zero = geometry.crop_frame(grey, (50, 50, 100), out=64)  # the bottom-right quarter, then padding
    assert (zero[:31, :31] == 200).all() and not zero[33:].any() and not zero[:, 33:].any()
    edge = geometry.crop_frame(grey, (50, 50, 100), out=64, pad="edge")
    assert (edge == 200).all()
    with pytest.raises(ValueError, match="crop_box"):
        geometry.crop_frame(image, (0, 0, -5))


@pytest.mark.parametrize("side", [150, 200, 270, 600])
def test_crop_frame_low_passes_a_larger_box(side):
    """A box larger than the crop is low-passed, not aliased: a pixel-fine checkerboard averages to grey, and
    a box moved by a fraction of a pixel gives about the same crop; smooth content stays where the box says."""
    checker = (np.indices((700, 700)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1)
    a, b = (geometry.crop_frame(checker, box, out=96).astype(np.float32) for box in [(50, 50, side), (50.5, 50.3, side)])
    assert abs(a.mean() - 127.5) < 1 and a.std() < (16 if side < 192 else 1), a.std()  # side < 2 x 96: a tail is left
    assert np.abs(a - b).mean() < (20 if side < 192 else 1)  # the plain bilinear crop differed by ~50 or 127
    gy, gx = np.mgrid[0:700, 0:700].astype(np.float32)
    ramp = np.stack([gx * 0.3, gy * 0.35, 0 * gx], -1).astype(np.uint8)
    crop = geometry.crop_frame(ramp, (100.3, 80.7, side), out=96).astype(np.float32)
    centres = 100.3 - 0.5 + (np.arange(96) + 0.5) * side / 96  # where each crop pixel's centre lies in the frame
    assert np.abs(crop[48, 8:-8, 0] - np.floor(0.3 * centres[8:-8])).max() <= 1.5


def test_crop_frame_and_maps_share_coordinates(face):
    image, points, box = face
    crop = geometry.crop_frame(image, box)
    # a landmark lands at the same place in the frame and in the crop
    for k in (30, 36, 45, 8):
        u, v = np.round(geometry.to_crop(points[k], box, 256)).astype(int)
        x, y = np.round(points[k]).astype(int)
        assert np.abs(crop[v, u].astype(int) - image[y, x].astype(int)).max() < 40


def test_position_map_is_the_face_contour(face):
    _, points, box = face
    pmap = maps.face_position_map(points, box)
    assert pmap.shape == (32, 32) and pmap.dtype == np.float32
    assert pmap.min() >= 0 and pmap.max() <= 1
    poly = geometry.to_crop(points[maps.CONTOUR], box, 32)
    for v in range(32):
        for u in range(32):
            corners = [(u + du, v + dv) for du in (-0.5, 0.5) for dv in (-0.5, 0.5)]
            states = {inside(poly, c) for c in corners}
            if states == {True}:
                assert pmap[v, u] > 0.9, (u, v)
            elif states == {False} and not any(abs(poly - (u, v)).max(1) < 1):
                assert pmap[v, u] < 0.1, (u, v)
    # sub-pixel accurate: the map's mass is the polygon's area
    assert pmap.sum() == pytest.approx(polygon_area(poly), rel=0.01)
    assert 0.25 < pmap.mean() < 0.65  # a face fills a good part, not all, of its crop
    assert ((pmap > 0.05) & (pmap < 0.95)).any()  # anti-aliased edge


def test_spoof_maps_are_zero(face):
    _, points, box = face
    for name, fn in maps.LABELS.items():
        out = fn(points, box, live=False)
        assert out.shape == (32, 32) and out.dtype == np.float32 and not out.any(), name


def test_binary_mask_is_the_whole_crop(face):
    _, points, box = face
    assert (maps.binary_mask(points, box) == 1).all()
    assert maps.binary_mask(points, box, size=14).shape == (14, 14)


def test_depth_map_peaks_at_the_nose(face):
    _, points, box = face
    depth = maps.depth_map(points, box)
    assert depth.shape == (32, 32) and depth.dtype == np.float32
    assert depth.min() >= 0 and depth.max() <= 1 and depth.max() > 0.9
    peak = np.array(np.unravel_index(depth.argmax(), depth.shape)[::-1])
    assert np.abs(peak - geometry.to_crop(points[maps.NOSE_TIP], box, 32)).max() <= 1.5
    position = maps.face_position_map(points, box)
    assert not depth[position == 0].any()  # nothing outside the face
    assert depth[position == 1].min() > 0


def test_depth_map_when_the_nose_leaves_the_contour(face):
    _, points, box = face
    turned = points.copy()
    turned[maps.NOSE_TIP] = points[0] - (0.3 * (points[16, 0] - points[0, 0]), 0)  # a profile's nose, past the jaw
    depth = maps.depth_map(turned, box)
    position = maps.face_position_map(turned, box)
    assert depth.max() > 0.9 and not depth[position == 0].any() and depth[position == 1].min() > 0


def test_maps_follow_the_output_size(face):
    _, points, box = face
    for fn in maps.LABELS.values():
        assert fn(points, box, size=16).shape == (16, 16)
    small, large = maps.face_position_map(points, box, size=16), maps.face_position_map(points, box, size=64)
    assert small.mean() == pytest.approx(large.mean(), abs=0.01)


def test_maps_reject_bad_inputs(face):
    _, points, box = face
    with pytest.raises(ValueError, match="landmarks"):
        maps.face_position_map(points[:5], box)
    with pytest.raises(ValueError, match="crop_box"):
        maps.depth_map(points, (1, 2))
    with pytest.raises(ValueError, match="size"):
        maps.binary_mask(points, box, size=0)


# --- cache and the label command ------------------------------------------------------------------------------

def panning(image, n=6, side=320):
    return np.stack([image[20 + 3 * i:20 + 3 * i + side, 60 + 4 * i:60 + 4 * i + side] for i in range(n)])


def test_fill_missing_takes_the_nearest_face():
    track = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 68, 2), np.float32)
    track[[0, 2, 3, 5]] = np.nan
    assert fill_missing(track)[:, 0, 0].tolist() == [1, 1, 1, 4, 4, 4]


def test_label_track_fills_gaps_and_rejects_faceless_videos(face):
    _, points, _ = face
    track = np.stack([points + (i, 0) for i in range(6)]).astype(np.float32)
    track[[1, 2]] = np.nan
    out = label_track(track, True, ["position"])
    assert out["found"].tolist() == [True, False, False, True, True, True]
    np.testing.assert_array_equal(out["landmarks"][1], track[0])
    assert out["boxes"].shape == (6, 3) and out["position"].shape == (6, 32, 32)
    track[[3, 4]] = np.nan
    with pytest.raises(ValueError, match="a face in only 2 of 6 frames"):
        label_track(track, True, ["position"])
    with pytest.raises(ValueError, match="labels must name"):
        label_track(track, True, ["normals"])


def test_label_command_caches_good_videos_and_skips_bad(tmp_path, dlib_detector, capsys):
    astronaut = skimage.data.astronaut()
    (tmp_path / "live").mkdir()
    live, attack = panning(astronaut), panning(astronaut[:, ::-1].copy())
    write_video(tmp_path / "live" / "a.mp4", live, fps=10)
    write_video(tmp_path / "b.mp4", attack, fps=10)
    track = np.stack([dlib_detector.detect(f) for f in attack])
    np.save(tmp_path / "b.npy", track)
    write_video(tmp_path / "blank.mp4", np.full((4, 64, 64, 3), 90, np.uint8), fps=10)
    (tmp_path / "broken.mp4").write_bytes(b"\x00not a video" * 50)
    (tmp_path / "dataset.csv").write_text(
        "path,label,species,split,subject,landmarks\n"
        "live/a.mp4,live,live,train,s1,\n"
        "b.mp4,attack,print,train,s1,b.npy\n"
        "blank.mp4,live,live,dev,s2,\n"
        "broken.mp4,attack,replay,dev,s2,\n")
    cache = tmp_path / "cache"

    assert cli_main(["label", str(tmp_path / "dataset.csv"), "--cache", str(cache), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "labelled 2 videos" in out and "skipped 2" in out
    assert "broken" in out and "blank" in out and "a face in only 0 of 4 frames" in out
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*.npz")) == ["b.npz", "live/a.npz"]

    a = load_labels(cache, "live/a")
    assert a["boxes"].shape == (6, 3) and a["landmarks"].shape == (6, 68, 2) and a["found"].all()
    assert bool(a["live"]) and str(a["detector"]) == "dlib" and float(a["fps"]) == 10
    for name in maps.LABELS:
        assert a[name].shape == (6, 32, 32) and a[name].max() > 0.9
    assert 0.25 < a["position"].mean() < 0.65
    b = load_labels(cache, "b")
    assert str(b["detector"]) == "precomputed" and not bool(b["live"])
    np.testing.assert_array_equal(b["landmarks"], track)
    assert not any(b[name].any() for name in maps.LABELS)

    assert cli_main(["label", str(tmp_path / "dataset.csv"), "--cache", str(cache), "--no-progress",
                     "--labels", "position"]) == 0
    assert "already cached 2" in capsys.readouterr().out


def test_label_command_input_errors(tmp_path, capsys):
    assert cli_main(["label", str(tmp_path / "missing.csv")]) == 2
    assert "layout CSV" in capsys.readouterr().err
    assert cli_main(["label", "--oulu", str(tmp_path)]) == 2
    assert "no OULU-NPU video" in capsys.readouterr().err and not (tmp_path / "labels").exists()
    (tmp_path / "Train_files").mkdir()
    write_video(tmp_path / "Train_files" / "1_1_01_1.avi", np.zeros((2, 16, 16, 3), np.uint8), fps=10)
    assert cli_main(["label", "--oulu", str(tmp_path), "--landmarks", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "--landmarks" in err and "nowhere is not a folder" in err
    with pytest.raises(SystemExit):
        cli_main(["label", str(tmp_path / "d.csv"), "--oulu", str(tmp_path)])  # one source only
