"""The synthetic generator: files, splits, reproducibility, and what each family is physically made of."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from scipy.interpolate import RBFInterpolator
from scipy.spatial import Delaunay
from sklearn.metrics import roc_auc_score

from fasstream.cli import main as cli_main
from fasstream.data import faces
from fasstream.data.records import read_layout_csv
from fasstream.data.synth.camera import CAPTURES, HANDHELD_SHARE
from fasstream.data.synth.families import DEFAULT_FAMILIES, FAMILIES, SPECIES, check_live_sources, resolve
from fasstream.data.synth.live import render_live, render_live_calm
from fasstream.data.synth.mesh import head_vertices, piecewise_affine, render_live_mesh
from fasstream.data.synth.spline import fixations, render_live_spline, spline_map
from fasstream.data.synth.temporal import HOLD_FRAMES, hold_index, live_source
from fasstream.data.synthetic import (FPS_CHOICES, LIVE_SHARE, MAX_FRAMES, MIN_FRAMES, generate_dataset,
                                      make_identity, read_capture, recording_family, render_video, video_camera)
from fasstream.data.video import read_video


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    records = generate_dataset(out, n_identities=2, videos_per_family=1, seed=3, workers=1)
    return out, records


@pytest.fixture(scope="module")
def identity():
    return make_identity(sorted(faces.source_faces())[0], 21)


def face_green_signal(frames, landmarks):
    """Mean green level per frame over cheeks and nose (between the outer eye corners, below the eyes)."""
    values = []
    for frame, pts in zip(frames, landmarks):
        x0, x1, y0, y1 = int(pts[36, 0]), int(pts[45, 0]), int(pts[29, 1]), int(pts[33, 1])
        values.append(frame[y0:y1, x0:x1, 1].mean())
    return np.asarray(values)


def pulse_amplitude(signal, fps):
    """Largest spectral amplitude (grey levels) of the detrended signal between 0.7 and 2.5 Hz."""
    t = np.arange(len(signal))
    detrended = signal - np.polyval(np.polyfit(t, signal, 2), t)
    spectrum = np.abs(np.fft.rfft(detrended * np.hanning(len(signal)))) * 4 / len(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / fps)
    return spectrum[(freqs >= 0.7) & (freqs <= 2.5)].max()


def high_frequency_energy(frames, landmarks):
    """Mean absolute Laplacian of the grey face box, averaged over frames."""
    energy = []
    for frame, pts in zip(frames, landmarks):
        (x0, y0), (x1, y1) = pts.min(0).astype(int), pts.max(0).astype(int)
        grey = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        energy.append(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
    return float(np.mean(energy))


def homography_residual(source: np.ndarray, moved: np.ndarray) -> float:
    """Largest landmark error (px) of the best single homography from ``source`` to ``moved`` points."""
    hom, _ = cv2.findHomography(source.astype(np.float64), moved.astype(np.float64), 0)
    return float(np.abs(faces.project(hom, source) - moved).max())


def test_synthetic_files_and_landmarks(synthetic):
    out, records = synthetic
    assert read_layout_csv(out / "dataset.csv") == records
    counts = {s: sum(r.species == s for r in records) for s in SPECIES}
    per_species = {s: sum(FAMILIES[f].species == s for f in DEFAULT_FAMILIES) for s in SPECIES}
    assert counts == {s: 2 * (LIVE_SHARE if s == "live" else per_species[s]) for s in SPECIES}
    shapes = set()
    for rec in records:
        assert rec.path.suffix == ".mp4" and rec.live == (rec.species == "live")
        frames, fps = read_video(rec.path)
        marks = np.load(rec.landmarks)
        assert 40 <= len(frames) <= 60 and fps in FPS_CHOICES
        assert marks.shape == (len(frames), 68, 2) and marks.dtype == np.float32
        capture = read_capture(rec.path)  # what made it: the family and the camera, for analyses by capture
        assert capture["family"] == rec.family and capture["frames"] == len(frames) and capture["fps"] == fps
        assert set(capture["camera"]) >= {"handheld", "crf", "width", "height"}
        assert (capture["camera"]["height"], capture["camera"]["width"]) == frames.shape[1:3]
        height, width = frames.shape[1:3]
        shapes.add((height, width))
        inside = (marks >= 0).all(-1) & (marks[..., 0] < width) & (marks[..., 1] < height)
        assert inside.mean() > 0.97, (rec.video_id, inside.mean())
    assert any(h != w for h, w in shapes) and len(shapes) > 5  # resolution and aspect vary


def test_synthetic_splits_are_disjoint_by_identity(synthetic):
    _, records = synthetic
    split_of = {}
    for rec in records:
        assert split_of.setdefault(rec.subject, rec.split) == rec.split
    assert len(split_of) == 2 and len(set(split_of.values())) == 2


def test_synthetic_is_deterministic_and_families_are_independent(synthetic, tmp_path):
    out, records = synthetic
    again = generate_dataset(tmp_path / "all", n_identities=2, videos_per_family=1, seed=3, workers=1)
    assert (tmp_path / "all" / "dataset.csv").read_text() == (out / "dataset.csv").read_text()
    for first, second in zip(records, again):
        np.testing.assert_array_equal(np.load(first.landmarks), np.load(second.landmarks))
        assert first.path.read_bytes() == second.path.read_bytes()
    # choosing fewer families renders the same videos for those that remain
    some = generate_dataset(tmp_path / "some", n_identities=2, videos_per_family=1, seed=3, workers=1,
                            families=["rigid-layers"], live_videos=1)
    by_id = {r.video_id: r for r in records}
    assert {r.species for r in some} == {"live", "rigid"} and len(some) == 4
    for rec in some:
        assert rec.path.read_bytes() == by_id[rec.video_id].path.read_bytes()


def test_cli_renders_only_the_chosen_splits_and_the_same_videos(synthetic, tmp_path, capsys):
    _, records = synthetic
    out = tmp_path / "test-only"
    assert cli_main(["synth", "--out", str(out), "--identities", "2", "--seed", "3", "--families", "still-print",
                     "--splits", "test", "--workers", "1"]) == 0
    some = read_layout_csv(out / "dataset.csv")
    by_id = {r.video_id: r for r in records}
    assert {r.split for r in some} == {"test"} and {r.species for r in some} == {"live", "still"}
    assert len(some) == LIVE_SHARE + 1
    for rec in some:
        assert rec.path.read_bytes() == by_id[rec.video_id].path.read_bytes()
    with pytest.raises(ValueError, match="unknown split.*'tset'"):
        generate_dataset(tmp_path / "x", n_identities=2, splits=("tset",))


def test_unknown_family_is_named(synthetic, tmp_path, identity):
    with pytest.raises(ValueError, match="unknown family or species 'poster'.*print-flat"):
        generate_dataset(tmp_path, n_identities=1, families=["poster"])
    with pytest.raises(ValueError, match="unknown family"):
        render_video(identity, "poster", 0)
    assert resolve("print") == "print-flat" and resolve("replay-phone") == "replay-phone"


def test_per_frame_species_differ(synthetic):
    _, records = synthetic
    by_key = {(r.subject, r.video_id.split("_")[-2]): r for r in records}
    for subject in {r.subject for r in records}:
        measures = {}
        for family in ("live", "print-flat", "animated-warp", "replay-lcd"):
            rec = by_key[subject, family]
            frames, fps = read_video(rec.path)
            marks = np.load(rec.landmarks)
            measures[family] = (pulse_amplitude(face_green_signal(frames, marks), fps),
                                high_frequency_energy(frames, marks))
        # live skin carries a ~1.2 Hz colour pulse; a print or an animated still does not
        assert measures["live"][0] > max(0.5, 2 * measures["print-flat"][0], 1.5 * measures["animated-warp"][0])
        # the screen's moire adds fine detail that the live capture lacks
        assert measures["replay-lcd"][1] > 1.1 * measures["live"][1]


def test_still_print_is_one_live_frame_with_fresh_noise(identity):
    seed, n, fps = 5, 45, 25.0
    held, held_tracks = FAMILIES["still-print"].render(identity, np.random.default_rng(seed), n, fps)
    scene, tracks, j = live_source(identity, np.random.default_rng(seed), n, fps)
    assert all(np.array_equal(frame, scene[j]) for frame in held)  # the scene is the live frame, exactly
    np.testing.assert_array_equal(held_tracks, np.repeat(tracks[j:j + 1], n, axis=0))
    camera = dataclasses.replace(video_camera(seed), exposure=0.0, light=0.0, handheld=0.0)  # on a stand
    captured, _ = camera.capture(held, held_tracks, np.random.default_rng(1), fps)
    clean, _ = dataclasses.replace(camera, noise="gaussian", level=0.0).capture(held[:1], held_tracks[:1],
                                                                             np.random.default_rng(1), fps)
    residual = captured.astype(np.float32) - clean[0].astype(np.float32)
    assert np.abs(residual.mean(axis=0)).mean() < 1.0  # the frames differ from the source by noise only
    assert min(residual[i].std() for i in range(n)) > 0.5  # and the noise is fresh in every frame
    assert np.abs(residual[1:] - residual[:-1]).mean() > 0.5


@pytest.mark.parametrize("seed", range(6))
def test_still_pause_holds_every_frame_10_to_20_frames(seed):
    index = hold_index(np.random.default_rng(seed), 60)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    lengths = np.diff(np.r_[starts, 60])
    assert (index[starts] == starts).all()  # each hold shows the frame where it starts
    assert (lengths[:-1] >= HOLD_FRAMES[0]).all() and (lengths <= HOLD_FRAMES[1]).all()


def test_rigid_plane_moves_as_one_plane_and_live_does_not(identity):
    seed, n, fps = 8, 40, 30.0
    _, moved = FAMILIES["rigid-plane"].render(identity, np.random.default_rng(seed), n, fps)
    _, source, j = live_source(identity, np.random.default_rng(seed), n, fps)
    assert max(homography_residual(source[j], moved[i]) for i in range(n)) < 0.05
    _, live_tracks = render_live(identity, np.random.default_rng(seed), n, fps)
    assert max(homography_residual(live_tracks[0], live_tracks[i]) for i in range(n)) > 0.5


def test_rigid_layers_move_the_head_over_a_slower_background(identity):
    frames, tracks = FAMILIES["rigid-layers"].render(identity, np.random.default_rng(4), 40, 30.0)
    head_motion = np.abs(tracks[1:] - tracks[:-1]).mean()
    corner = np.stack([f[:40, :40] for f in frames])  # background far from the head
    flow = [cv2.phaseCorrelate(corner[i].mean(-1), corner[i + 1].mean(-1))[0] for i in range(39)]
    assert head_motion > 1.3 * np.abs(np.array(flow)).mean()


def test_one_frame_does_not_tell_live_from_temporal_attacks(identity):
    """Per-frame noise and sharpness of face crops overlap between live and still/rigid videos."""
    stats = {"live": [], "still-print": [], "rigid-plane": []}
    for family in stats:
        for k in range(6):
            frames, marks, _ = render_video(identity, family, np.random.SeedSequence([77, k]))
            pts = marks[20]
            (x0, y0), (x1, y1) = pts.min(0).astype(int), pts.max(0).astype(int)
            crop = frames[20, y0:y1, x0:x1]
            grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
            residual = grey - cv2.medianBlur(grey.astype(np.uint8), 3)
            stats[family].append((residual.std(), np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean()))
    for family in ("still-print", "rigid-plane"):
        for feature in range(2):
            values = [s[feature] for s in stats["live"] + stats[family]]
            auc = roc_auc_score([1] * 6 + [0] * 6, values)
            assert 0.15 <= auc <= 0.85, (family, feature, auc)  # the same cameras: no clean split



def background_motion(frames: np.ndarray) -> float:
    """Mean shift (px, windowed phase correlation) of the frame's left quarter from frame 0 to every 5th frame."""
    strip = frames[:, :, : frames.shape[2] // 4].mean(-1).astype(np.float32)
    window = cv2.createHanningWindow(strip.shape[2:0:-1], cv2.CV_32F)
    return float(np.mean([np.hypot(*cv2.phaseCorrelate(strip[0], strip[i], window)[0])
                          for i in range(5, len(strip), 5)]))


def test_hand_held_cameras_move_the_whole_scene_for_every_species(identity):
    """A hand-held camera moves a still print's landmarks by one homography per frame and its background with
    them; cameras are drawn alike for every family, so camera motion does not tell live from attack."""
    seed, n, fps = 5, 40, 25.0
    held, held_tracks = FAMILIES["still-print"].render(identity, np.random.default_rng(seed), n, fps)
    camera = dataclasses.replace(video_camera(seed), handheld=1.0, soft=1.0, blur=0.0)
    frames, tracks = camera.capture(held, held_tracks, np.random.default_rng(1), fps)
    assert np.abs(tracks[1:] - tracks[:-1]).mean() > 0.3  # the print moves in the frame
    assert max(homography_residual(tracks[0], tracks[i]) for i in range(n)) < 0.05  # as one plane
    still, _ = dataclasses.replace(camera, handheld=0.0).capture(held, held_tracks, np.random.default_rng(1), fps)
    assert background_motion(frames) > 1.0 > 0.5 > background_motion(still)
    amounts = {family: np.array([video_camera(np.random.SeedSequence([0, i, f, 0])).handheld for i in range(300)])
               for f, family in enumerate(FAMILIES)}  # the seeds generate_dataset gives each family's videos
    for family, drawn in amounts.items():
        assert abs((drawn > 0).mean() - HANDHELD_SHARE) < 0.1, family
        assert abs(np.median(drawn[drawn > 0]) - np.median(amounts["live"][amounts["live"] > 0])) < 0.15, family


def test_wide_capture_reaches_small_clean_and_sharpened_frames(identity, tmp_path):
    """``wide`` cameras go below standard's smallest frame, are cleaner and softer less often, and a share of
    them sharpens: a sharpened frame has more fine detail than the same camera's unsharpened one. The dataset
    records the distribution; an unknown one stops with the choices before anything is written."""
    seeds = [np.random.SeedSequence([0, i, 3, 0]) for i in range(400)]
    drawn = {name: [video_camera(seed, name) for seed in seeds] for name in CAPTURES}
    short = {name: np.array([min(c.width, c.height) for c in cameras]) for name, cameras in drawn.items()}
    assert short["standard"].min() >= 128 and (short["wide"] < 128).mean() > 0.15
    assert all(c.sharpen == 0 for c in drawn["standard"])
    assert 0.25 < np.mean([c.sharpen > 0 for c in drawn["wide"]]) < 0.45
    for effect in ("blur", "soft"):
        plain = 1.0 if effect == "soft" else 0.0
        shares = {name: np.mean([getattr(c, effect) != plain for c in cameras]) for name, cameras in drawn.items()}
        assert shares["wide"] < 0.7 * shares["standard"], (effect, shares)
    scene, tracks = FAMILIES["live"].render(identity, np.random.default_rng(2), 2, 25.0)
    camera = dataclasses.replace(video_camera(seeds[0], "wide"), blur=0.0, soft=1.0, handheld=0.0, sharpen=1.0)
    laplacian = {amount: cv2.Laplacian(cv2.cvtColor(dataclasses.replace(camera, sharpen=amount).capture(
        scene, tracks, np.random.default_rng(1), 25.0)[0][0], cv2.COLOR_RGB2GRAY), cv2.CV_32F).var()
        for amount in (0.0, 1.0)}
    assert laplacian[1.0] > 1.5 * laplacian[0.0]
    records = generate_dataset(tmp_path / "wide", n_identities=1, seed=3, workers=1, families=["print-flat"],
                               live_videos=1, capture="wide")
    assert {read_capture(r.path)["capture"] for r in records} == {"wide"}
    with pytest.raises(ValueError, match="unknown capture 'studio'.*standard, wide"):
        generate_dataset(tmp_path / "studio", n_identities=1, seed=3, workers=1, capture="studio")
    assert not (tmp_path / "studio").exists()


def test_live_mesh_is_held_out_of_default_datasets_and_rendered_by_name(synthetic, tmp_path):
    """The second live renderer is never in a default dataset (so never trained on), only when named."""
    _, records = synthetic
    assert "live-mesh" not in DEFAULT_FAMILIES and FAMILIES["live-mesh"].held_out and not FAMILIES["live-mesh"].default
    assert "live-calm" not in DEFAULT_FAMILIES and not FAMILIES["live-calm"].held_out  # opt-in, trainable
    assert {r.family for r in records} == set(DEFAULT_FAMILIES)
    some = generate_dataset(tmp_path / "held", n_identities=2, seed=3, workers=1, families=["live-mesh"],
                            live_videos=1)
    assert sorted((r.family, r.live, r.species) for r in some) == [("live", True, "live")] * 2 + [
        ("live-mesh", True, "live")] * 2
    assert read_layout_csv(tmp_path / "held" / "dataset.csv") == some
    by_id = {r.video_id: r for r in records}
    for rec in some:  # the live videos are those of the default dataset, the mesh ones reproducible
        if rec.family == "live":
            assert rec.path.read_bytes() == by_id[rec.video_id].path.read_bytes()
    again = generate_dataset(tmp_path / "again", n_identities=2, seed=3, workers=1, families=["live-mesh"],
                             live_videos=1)
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(some, again))


def test_piecewise_affine_puts_every_vertex_where_it_is_told(identity):
    """Warping a coordinate image: the pixel at each moved landmark holds the landmark's source position."""
    size = identity.image.shape[0]
    src, _, moving = head_vertices(identity.landmarks.astype(np.float64), size)
    triangles = Delaunay(src).simplices
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), 3.0, 1.03) + [[0, 0, 2.5], [0, 0, -1.5]]
    dst = np.where(moving[:, None], faces.project(turn, src), src)
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
    coords = np.dstack([gx, gy, np.zeros_like(gx)])
    values = moving.astype(np.float64)
    warped, field = piecewise_affine(coords, src, dst, triangles, np.arange(len(triangles)), values)
    got = np.stack([faces.sample(warped[..., k], dst[:68]) for k in range(2)], axis=1)
    np.testing.assert_allclose(got, src[:68], atol=0.02)  # every landmark exactly where the tracks say
    np.testing.assert_allclose(faces.sample(field, dst[:68]), 1.0, atol=1e-4)  # values interpolate the same way
    assert field.shape == (size, size) and np.isfinite(field).all()


def reproducible_non_planar(render, identity, n: int = 45, fps: float = 25.0) -> np.ndarray:
    """Check a live renderer: the same seed gives the same video, finite frames, landmarks that no single
    homography explains (a turning head, not a plane); returns its ``(n, 68, 2)`` landmarks."""
    frames, tracks = render(identity, np.random.default_rng(2), n, fps)
    again, tracks_again = render(identity, np.random.default_rng(2), n, fps)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again)) and np.array_equal(tracks, tracks_again)
    assert len(frames) == n and tracks.shape == (n, 68, 2) and all(np.isfinite(f).all() for f in frames)
    assert max(homography_residual(tracks[0], tracks[i]) for i in range(n)) > 0.5
    return tracks


def test_live_mesh_turns_in_3d_blinks_and_is_reproducible(identity):
    tracks = reproducible_non_planar(render_live_mesh, identity)
    nose = tracks[:, 27:36]
    assert 2 < np.ptp(nose[:, :, 0], axis=0).mean() < 60 and np.abs(np.diff(nose, axis=0)).max() < 8  # smooth


@pytest.mark.parametrize("seed", range(3))
def test_live_calm_blinks_like_live_but_holds_the_head_and_mouth_still(identity, seed):
    """Same seed, same blinks; the calm subject's head moves less and the jaw does not talk."""
    _, live = render_live(identity, np.random.default_rng(seed), 45, 25.0)
    _, calm = render_live_calm(identity, np.random.default_rng(seed), 45, 25.0)

    def opening(t):  # right eye's upper to lower lid, relative to its median
        eye = np.linalg.norm(t[:, 37] - t[:, 41], axis=1)
        return eye / np.median(eye)

    assert opening(calm).min() < 0.6 and np.corrcoef(opening(calm), opening(live))[0, 1] > 0.9
    assert np.ptp(calm[:, 30], axis=0).max() < 0.6 * np.ptp(live[:, 30], axis=0).max()  # nose tip
    chin = [np.ptp(np.linalg.norm(t[:, 8] - t[:, 30], axis=1)) for t in (live, calm)]
    assert chin[1] < 2.0 and chin[0] > 4.0


def test_training_refuses_held_out_families(tmp_path):
    """A held-out renderer measures generalisation only while no training run has seen it."""
    from fasstream.train.config import TrainConfig
    from fasstream.train.dataset import split_records

    rows = ["path,label,species,split,family", "a.mp4,live,live,train,live", "b.mp4,attack,print,train,print-flat",
            "c.mp4,live,live,dev,live", "d.mp4,attack,print,dev,print-flat", "e.mp4,live,live,test,live-mesh"]
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(rows) + "\n")
    cfg = TrainConfig.from_dict({"data": {"path": str(csv)}})
    assert [r.family for r in split_records(cfg, "test")] == ["live-mesh"]
    assert len(split_records(cfg, "train")) == 2
    csv.write_text("\n".join(rows).replace("e.mp4,live,live,test", "e.mp4,live,live,train") + "\n")
    with pytest.raises(ValueError, match="train split of .* held-out family live-mesh, which test and never train"):
        split_records(cfg, "train")


def test_spline_map_takes_every_anchor_where_it_is_told(identity):
    """The backward map at each moved point samples that point's source position (to the 4-px grid's accuracy)."""
    size = identity.image.shape[0]
    src = identity.landmarks.astype(np.float64)
    border = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], np.float64)
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), 4.0, 1.02) + [[0, 0, 3.0], [0, 0, -2.0]]
    dst = faces.project(turn, src)
    map_x, map_y = spline_map(np.vstack([dst, border]), np.vstack([src, border]), size)
    got = np.stack([faces.sample(m, dst) for m in (map_x, map_y)], axis=1)
    np.testing.assert_allclose(got, src, atol=0.3)
    anywhere = np.random.default_rng(0).uniform(0, size - 1, (500, 2))  # between grid points too
    exact = anywhere + RBFInterpolator(np.vstack([dst, border]), np.vstack([src - dst, border * 0]),
                                       kernel="thin_plate_spline", smoothing=1e-3)(anywhere)
    got = np.stack([faces.sample(m, anywhere) for m in (map_x, map_y)], axis=1)
    assert np.abs(got - exact).mean() < 0.02  # the 4-px grid is aligned with the pixels, not half a cell off


def test_fixations_hold_and_move_smoothly():
    times = np.arange(400) / 25.0
    path = fixations(np.random.default_rng(1), times, 3.0)
    steps = np.abs(np.diff(path))
    assert (steps < 1e-9).mean() > 0.3  # it holds between moves
    assert np.ptp(path) > 1.0 and steps.max() < 0.35 * np.ptp(path)  # moves over 0.25 s or more, never jumps


def test_live_spline_moves_in_3d_blinks_and_is_reproducible(identity):
    tracks = reproducible_non_planar(render_live_spline, identity)
    assert np.abs(np.diff(tracks, axis=0)).max() < 8  # smooth
    closed = []
    for seed in range(3):
        lids = render_live_spline(identity, np.random.default_rng(seed), 60, 20.0)[1]
        opening = np.linalg.norm(lids[:, [37, 38]] - lids[:, [41, 40]], axis=2).mean(1)
        closed.append(opening.min() / np.median(opening))
    assert min(closed) < 0.4  # the lids close in some of them
    closed_lips = make_identity("grace_hopper", 3)  # its inner lip points coincide: the spline still fits
    assert np.isfinite(render_live_spline(closed_lips, np.random.default_rng(0), 40, 25.0)[1]).all()


def test_rigid_head_turns_one_live_frame_in_3d_without_expression(identity):
    """rigid-head: the source live frame's pixels ride on its landmarks, turned in 3-D; lids and lips hold."""
    render = FAMILIES["rigid-head"].render
    frames, tracks = render(identity, np.random.default_rng(6), 45, 25.0, live=render_live_spline)
    again, tracks_again = render(identity, np.random.default_rng(6), 45, 25.0, live=render_live_spline)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again)) and np.array_equal(tracks, tracks_again)
    scene, source, j = live_source(identity, np.random.default_rng(6), 45, 25.0, render_live_spline)
    assert max(homography_residual(source[j], tracks[i]) for i in range(45)) > 0.5  # not a plane
    inner = list(range(17, 68))  # brows, nose, eyes, mouth: inside the face, where the warp is smooth
    colours = lambda image, points: np.stack([faces.sample(image[..., c], points[inner]) for c in range(3)], 1)
    still = colours(scene[j], source[j])
    follows = max(np.abs(colours(f, t) - still).mean() for f, t in zip(frames, tracks))
    swapped = np.abs(colours(frames[0], tracks[0][::-1]) - still).mean()
    assert follows < 0.2 * swapped  # every frame shows the source frame's pixels at its moved landmarks
    shape = lambda t: np.linalg.norm(t[:, [37, 38, 62]] - t[:, [41, 40, 66]], axis=2) / np.linalg.norm(
        t[:, 45] - t[:, 36], axis=1)[:, None]  # lid and lip openings over the eye span
    assert np.ptp(shape(tracks), axis=0).max() < 0.05  # no blink, no speech
    live = shape(render_live_spline(identity, np.random.default_rng(0), 60, 20.0)[1])
    assert np.ptp(live, axis=0).max() > 0.05  # what a live-spline subject does


def test_attacks_are_made_of_the_dataset_live_sources(identity):
    """Each replay/still/rigid video draws its recording's live family; one source is the default rendering."""
    seeds = [np.random.SeedSequence([5, k]) for k in range(40)]
    assert {recording_family("replay-lcd", s) for s in seeds} == {"live"}
    assert {recording_family("print-flat", s, ("live", "live-spline")) for s in seeds} == {None}
    drawn = [recording_family("still-print", s, ("live", "live-spline")) for s in seeds]
    assert 10 < drawn.count("live-spline") < 30 and drawn.count("live") + drawn.count("live-spline") == 40
    k = drawn.index("live-spline")
    held, held_tracks, fps = render_video(identity, "still-print", seeds[k], live_sources=("live", "live-spline"))
    rng = np.random.default_rng(seeds[k])
    n, fps_drawn = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1)), float(rng.choice(FPS_CHOICES))  # as render_video
    scene, tracks = FAMILIES["still-print"].render(identity, rng, n, fps_drawn, live=render_live_spline)
    frames, tracks = video_camera(seeds[k]).capture(scene, tracks, rng, fps_drawn)
    assert fps == fps_drawn and np.array_equal(held_tracks, tracks)  # the held frame is a live-spline frame
    assert np.array_equal(held, frames)
    k = drawn.index("live")
    default = render_video(identity, "still-print", seeds[k])
    chosen = render_video(identity, "still-print", seeds[k], live_sources=("live", "live-spline"))
    assert all(np.array_equal(a, b) for a, b in zip(default[:2], chosen[:2]))


def test_live_sources_are_checked_and_recorded(tmp_path):
    assert check_live_sources(["live", "live-spline", "live"]) == ("live", "live-spline")
    with pytest.raises(ValueError, match="must be live families .* got print"):
        check_live_sources(["print"])
    with pytest.raises(ValueError, match="live-mesh is held out.*--splits test"):
        check_live_sources(["live", "live-mesh"], ("train", "test"))
    assert check_live_sources(["live-mesh"], ("test",)) == ("live-mesh",)
    records = generate_dataset(tmp_path, n_identities=1, seed=2, workers=1, families=["still-print"],
                               live_videos=1, live_sources=("live", "live-spline"))
    assert sorted(r.family for r in records) == ["live", "live-spline", "still-print"]
    still = next(r for r in records if r.family == "still-print")
    assert read_capture(still.path)["live_source"] in {"live", "live-spline"}
    assert "live_source" not in read_capture(next(r for r in records if r.family == "live").path)
    assert cli_main(["synth", "--out", str(tmp_path / "x"), "--identities", "1", "--live-sources", "print"]) == 2
