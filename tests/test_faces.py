"""Tests of fasstream.faces: detectors, calibration to the training crop, tracking, the stage files, no dlib."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from fasstream.data import synthetic
from fasstream.data.video import sample_clips, write_video
from fasstream.faces.calibration import CropCalibration, landmark_box
from fasstream.faces.detectors import Detection, make_detector
from fasstream.faces.geometry import face_crop_box
from fasstream.faces.stage import load_tracker, stage_file
from fasstream.faces.tracking import FaceTracker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mtcnn():
    return make_detector("mtcnn")


@pytest.fixture(scope="module")
def replay():
    """A synthetic screen replay (moire) with its exact landmarks: frames (N, 320, 320, 3), landmarks (N, 68, 2)."""
    identity = synthetic.make_identity(sorted(synthetic.faces.source_faces())[0], 5)
    frames, marks, fps = synthetic.render_video(identity, "replay", np.random.SeedSequence(5))
    return frames[:40], marks[:40], fps


def test_mtcnn_finds_the_astronaut_with_five_points(mtcnn):
    image = skimage.data.astronaut()
    (det,) = mtcnn.detect([image])
    x0, y0, x1, y1 = det.box
    assert det.score > 0.99 and 150 < x0 < x1 < 300 and 40 < y0 < y1 < 200
    assert det.points.shape == (5, 2) and ((det.points > (x0, y0)) & (det.points < (x1, y1))).all()
    left_eye, right_eye, nose = det.points[:3]
    assert left_eye[0] < nose[0] < right_eye[0]  # image left to right
    flipped = np.ascontiguousarray(image[:, ::-1])
    batch = mtcnn.detect([image, np.zeros_like(image), flipped])  # one call, one face each or none
    assert batch[1] is None and batch[0].box == det.box  # exactly: a frame's face does not depend on the others
    assert batch[2].box[0] == pytest.approx(511 - det.box[2], abs=3)
    (again,) = mtcnn.refine([image], [det])  # O-Net alone re-places the face from its box
    assert np.abs(np.subtract(again.box, det.box)).max() < 0.05 * (x1 - x0)
    assert mtcnn.refine([np.zeros_like(image)], [det]) == [None]  # the face is gone: track lost
    with pytest.raises(ValueError, match="uint8 RGB"):
        mtcnn.detect([image[..., 0]])


def test_calibration_recovers_a_known_map_and_round_trips():
    rng = np.random.default_rng(0)
    dets, marks = [], []
    base = synthetic.faces.source_faces()["astronaut"][1]
    for _ in range(60):  # landmark sets moved and scaled; the "detector" sees a box 20% larger, shifted up
        pts = (base - base.mean(0)) * rng.uniform(0.5, 1.5) + rng.uniform(100, 300, 2)
        cx, cy, ext = landmark_box(pts)
        side = 1.2 * ext
        box = (cx - side / 2, cy - 0.1 * ext - side / 2, cx + side / 2, cy - 0.1 * ext + side / 2)
        dets.append(Detection(box, 1.0))
        marks.append(pts)
    cal = CropCalibration.fit(dets, marks, "box")
    assert cal.fit_info["centre_error_p95"] < 1e-6 and cal.fit_info["extent_error_p95"] < 1e-6
    again = CropCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_allclose(again.clip_box(dets[:1], 1.3), face_crop_box(marks[0], 1.3), atol=1e-3)
    assert again.clip_box([None, None]) is None
    with pytest.raises(ValueError, match="coef of shape"):
        CropCalibration("box+points", np.zeros((1, 3)))
    with pytest.raises(ValueError, match="5 points"):
        CropCalibration("box+points", np.zeros((11, 3))).frame_boxes(dets[:1])


def test_committed_mtcnn_stage_crops_like_training(replay):
    """The committed calibration puts each clip's box on the training crop of its exact landmarks."""
    frames, marks, _ = replay
    tracker = load_tracker("mtcnn", "cpu", 1.3)
    assert json.loads(stage_file("mtcnn").read_text())["calibration"]["features"] == "box+points"
    track = tracker.track()
    for clip, points in zip(sample_clips(frames), sample_clips(marks)):
        want = np.array(face_crop_box(points.mean(0), 1.3))
        got = np.array(tracker.boxes([(track, clip, None)])[0])
        assert np.abs(got - want).max() < 0.06 * want[2], (got, want)
    assert track.counts["detected"] == 1 and track.counts["tracked"] == 3 and track.counts["faceless"] == 0


def test_tracker_redetects_when_lost_and_keeps_client_boxes(mtcnn, replay):
    frames, _, _ = replay
    clips = sample_clips(frames)
    tracker = FaceTracker(mtcnn, CropCalibration("box", np.zeros((1, 3))), redetect_every=2)
    track, fixed = tracker.track(), tracker.track(box=(10, 20, 100))
    blank = np.zeros_like(clips[0])
    plan = [clips[0], blank, clips[1], clips[2], clips[3]]
    boxes = [tracker.boxes([(track, clip, None), (fixed, clip, None)]) for clip in plan]
    assert [b[0] is None for b in boxes] == [False, True, False, False, False]
    assert all(b[1] == (10.0, 20.0, 100.0) for b in boxes)
    # clip 0 detected; the blank clip: O-Net loses the track, the full detector finds nothing (faceless);
    # clip 1 detected afresh, clip 2 tracked, clip 3 detected again (redetect_every=2)
    assert track.counts == {"detected": 3, "tracked": 1, "lost": 1, "faceless": 1}
    with pytest.raises(ValueError, match="one clip per track"):
        tracker.boxes([(track, clips[0], None), (track, clips[1], None)])


@pytest.mark.parametrize("chunk", [1, 4])
def test_a_sessions_boxes_do_not_depend_on_the_sessions_beside_it(replay, chunk):
    """verify tracks a video alone, a worker beside other sessions: the boxes must be the same, bit for bit
    (a float difference of another batch size re-places the next O-Net crop and grows along the track)."""
    frames, _, _ = replay
    clips = sample_clips(frames)
    others = [sample_clips(np.ascontiguousarray(frames[:, ::-1])), sample_clips(frames[:, 20:300, 10:290])]
    tracker = load_tracker("mtcnn", "cpu", 1.3)
    tracker.detector.chunk = chunk  # 1 on a CPU, 16 on a GPU: any fixed size keeps crops independent
    alone, track = [], tracker.track()
    for clip in clips:
        alone.append(tracker.boxes([(track, clip, None)])[0])
    beside, track, neighbours = [], tracker.track(), [tracker.track(), tracker.track()]
    for k, clip in enumerate(clips):
        company = [(t, o[k], None) for t, o in zip(neighbours, others)][:k % 3]  # 0, 1 or 2 other sessions
        beside.append(tracker.boxes(company[:1] + [(track, clip, None)] + company[1:])[min(1, len(company))])
    assert None not in alone and beside == alone


def test_stage_files_and_backends_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="mtcnn, lbp-cascade, dlib, precomputed"):
        load_tracker("haar")
    with pytest.raises(FileNotFoundError, match="fit_calibration.py --detector lbp-cascade"):
        load_tracker("lbp-cascade", stage=tmp_path / "none.json")
    with pytest.raises(ValueError, match="pass keys"):
        make_detector("precomputed").detect([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match="need a fitted calibration"):
        FaceTracker(make_detector("lbp-cascade")).boxes([])
    bad = tmp_path / "mtcnn.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tracker("mtcnn", stage=bad)


def test_verify_runs_without_dlib(no_dlib_env, replay, tmp_path):
    """verify's default face stage needs no dlib (blocked here in the subprocess)."""
    frames, _, fps = replay
    video = write_video(tmp_path / "replay.mp4", frames[:20], fps)  # no landmark .npy beside it
    proc = subprocess.run([sys.executable, "-c", "import dlib"], env=no_dlib_env, capture_output=True, text=True)
    assert proc.returncode != 0 and "blocked by the test" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "fasstream.cli", "verify", str(video), "--json",
                           str(tmp_path / "v.json")], cwd=ROOT, env=no_dlib_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (result,) = json.loads((tmp_path / "v.json").read_text())["results"]
    assert result["clips"] == 2 and result["decision"] in ("live", "spoof")
    assert "faces mtcnn" in proc.stdout


def test_serve_defaults_to_the_licence_clean_stage_and_the_committed_model():
    from fasstream.model.checkpoint import DEFAULT_MODEL
    from fasstream.stream.config import ConfigError, load_config

    cfg = load_config(None, environ={})
    assert cfg.face_detector == "mtcnn" and cfg.model == str(DEFAULT_MODEL) and DEFAULT_MODEL.is_file()
    with pytest.raises(ConfigError, match="face_detector='haar'.*mtcnn"):
        load_config(None, ["face_detector=haar"], environ={})


def test_stored_source_landmarks_are_dlibs():
    """The generator's stored source-face landmarks are what dlib finds (where dlib is installed)."""
    pytest.importorskip("dlib")
    stored = synthetic.faces.source_faces()
    for name, points in synthetic.faces.measure_source_landmarks().items():
        np.testing.assert_array_equal(stored[name][1], points)


def _warp_sequence(image: np.ndarray, homographies) -> np.ndarray:
    import cv2

    side = image.shape[0]
    return np.stack([cv2.warpPerspective(image, h, (side, side), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REFLECT_101) for h in homographies])


def _detail(image: np.ndarray) -> float:
    """Energy of the finest detail (variance of the Laplacian of the grey image)."""
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).var())


def test_a_warped_crop_is_the_crop_warped_but_sampled_once():
    import cv2

    from fasstream.faces.geometry import crop_frame

    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (300, 300, 3)).astype(np.uint8), (0, 0), 3)  # smooth: both agree
    box, hom = (80.3, 60.7, 110.0), np.array([[1.01, 0.01, 2.3], [-0.01, 0.99, -1.7], [0, 0, 1]])
    for resample, flag in (("linear", cv2.INTER_LINEAR), ("lanczos", cv2.INTER_LANCZOS4)):
        crop = crop_frame(frame, box, 96, resample=resample)
        np.testing.assert_array_equal(crop_frame(frame, box, 96, resample=resample, warp=np.eye(3)), crop)
        once = crop_frame(frame, box, 96, resample=resample, warp=hom)
        twice = cv2.warpPerspective(crop, hom, (96, 96), flags=flag, borderMode=cv2.BORDER_REFLECT_101)
        assert np.abs(once.astype(int) - twice)[4:-4, 4:-4].max() <= 2
        assert (once.max(-1) > 0).all()  # the warp reaches past the box: the margin holds frame pixels, not zeros
    with pytest.raises(ValueError, match="resample must be one of linear, lanczos, got 'cubic'"):
        crop_frame(frame, box, 96, resample="cubic")


def test_lanczos_stabilisation_keeps_moved_frames_as_sharp_as_the_first():
    """Bilinear stabilisation resamples moved frames twice and blurs them by their sub-pixel motion, so a
    moving clip gets blurrier over time than a still one; sampled once with Lanczos, it does not."""
    import cv2

    from fasstream.data.faceclips import ClipWindow, stabilised_crop

    photo = cv2.resize(skimage.data.astronaut(), (300, 300), interpolation=cv2.INTER_AREA)
    frames = np.stack([np.roll(photo, (t, t), axis=(0, 1)) for t in range(4)])  # moved by whole pixels: as sharp
    window = ClipWindow(np.arange(4), (50.0, 30.0, 192.0))  # half-size crops: they move by 0.5, 1, 1.5 crop pixels
    sharpness = {}
    for resample in ("linear", "lanczos"):
        clip, homographies = stabilised_crop(frames, window, 96, resample)
        assert np.abs(homographies[1:, :2, 2] + 0.5 * np.arange(1, 4)[:, None]).max() < 0.15  # the motion, in crop px
        inner = clip[:, 8:-8, 8:-8].astype(float)
        assert np.abs(inner[1:] - inner[:1]).mean() < 4  # stands still
        sharpness[resample] = [_detail(f) / _detail(clip[0]) for f in clip[1:]]
    assert min(sharpness["linear"]) < 0.4 and min(sharpness["lanczos"]) > 0.7, sharpness  # half-pixel moves


def test_stabilise_stills_a_plane_however_it_moves_and_keeps_what_moves_on_it():
    import cv2

    from fasstream.faces.geometry import to_crop
    from fasstream.faces.stabilise import stabilise_clip, stabilised_landmarks

    face = cv2.resize(skimage.data.astronaut()[20:250, 110:340], (96, 96), interpolation=cv2.INTER_AREA)
    moves = [np.eye(3), [[1.02, 0.01, 1.6], [-0.012, 1.0, -1.1], [1e-4, 0, 1]],
             [[0.99, -0.02, -2.0], [0.015, 1.01, 0.8], [0, -1e-4, 1]], [[1.03, 0, 2.5], [0, 1.03, 1.7], [0, 0, 1]]]
    clip = _warp_sequence(face, np.array(moves, np.float64))
    still, homographies = stabilise_clip(clip)
    inner = (slice(12, 84), slice(12, 84))  # away from the reflected borders
    moved = np.abs(clip[1:].astype(float) - clip[:1]).mean()
    residual = np.abs(still[1:, inner[0], inner[1]].astype(float) - still[:1, inner[0], inner[1]]).mean()
    assert moved > 10 and residual < 0.15 * moved, (moved, residual)
    np.testing.assert_allclose(homographies[0], np.eye(3))
    points = np.array([[30.0, 40.0], [60.0, 45.0], [48.0, 70.0]])  # points painted on the plane, in crop pixels
    on_frames = np.stack([cv2.perspectiveTransform(points.reshape(-1, 1, 2), np.asarray(h, np.float64)).reshape(-1, 2)
                          for h in moves])
    box = (0.0, 0.0, 96.0)  # the crop is the frame: crop and frame coordinates agree
    back = stabilised_landmarks(on_frames, homographies, box, 96)
    assert np.abs(to_crop(back, box, 96) - points).max() < 0.5  # every frame's points back where frame 0 has them
    again, _ = stabilise_clip(clip)
    np.testing.assert_array_equal(again, still)  # deterministic
    # a part that moves on its own (a blinking eye, a speaking mouth) is not stilled with the plane
    talking = clip.copy()
    for t in range(1, 4):
        talking[t, 60:75, 35:60] = np.roll(talking[t, 60:75, 35:60], 2 * t, axis=0)
    stilled, _ = stabilise_clip(talking)
    mouth = np.abs(stilled[1:, 62:73, 37:58].astype(float) - stilled[:1, 62:73, 37:58]).mean()
    rest = np.abs(stilled[1:, 20:50, 20:76].astype(float) - stilled[:1, 20:50, 20:76]).mean()
    assert mouth > 3 * rest, (mouth, rest)
    with pytest.raises(ValueError, match="uint8"):
        stabilise_clip(clip.astype(np.float32))
