"""Training: Ranger, recipes, the in-memory clip set, the loop (resume, checkpoints) and DDP on gloo."""
import copy
import itertools
import json
import socket
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import Dataset

from fasstream.cli import main as cli_main
from fasstream.data.faceclips import ClipWindow, crop_clip, stabilised_crop
from fasstream.data.records import VideoRecord, write_layout_csv
from fasstream.data.video import read_video, write_video
from fasstream.model import EulerNet, score
from fasstream.train.config import ConfigError, TrainConfig, load_config
from fasstream.train.dataset import ClipDataset, build_datasets, colour_jitter
from fasstream.train.loop import lr_at, train
from fasstream.train.ranger import Ranger
from fasstream.train.sampling import BalancedSampler
from fasstream.train.capture import degrade_clip, detail_clip, gaussian_blur, h264_roundtrip
from fasstream.train.temporal import freeze_clip, rigid_clip
from fasstream.train.instances import most_live_instances
from fasstream.train.framing import margin_box, margin_size, moved_box, random_box, reframe

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines" / "train"
SIZE = 32  # model input side for CPU tests (the paper's 256 works the same, 50x slower)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- Ranger ---------------------------------------------------------------------------------------

def _quadratic(x: torch.Tensor) -> torch.Tensor:
    scale = torch.linspace(0.5, 2.0, x.numel())
    return (scale * (x - 3.0) ** 2).sum()


def _run(opt, x, steps):
    for _ in range(steps):
        opt.zero_grad()
        _quadratic(x).backward()
        opt.step()


def test_ranger_minimises_a_quadratic():
    x = torch.zeros(8, requires_grad=True)
    opt = Ranger([x], lr=0.1)
    start = _quadratic(x).item()
    _run(opt, x, 300)
    assert _quadratic(x).item() < 1e-3 * start


def test_ranger_is_radam_plus_lookahead():
    """alpha=1 is plain RAdam; after k steps alpha=0.5 lands halfway between the start and RAdam's point."""
    x0 = torch.randn(5)
    x, y = x0.clone().requires_grad_(), x0.clone().requires_grad_()
    radam = torch.optim.RAdam([y], lr=0.05, betas=(0.95, 0.999), eps=1e-5)
    _run(Ranger([x], lr=0.05, alpha=1.0), x, 9)
    _run(radam, y, 9)
    torch.testing.assert_close(x, y)

    x = x0.clone().requires_grad_()
    y = x0.clone().requires_grad_()
    _run(Ranger([x], lr=0.05, k=6, alpha=0.5), x, 6)
    _run(torch.optim.RAdam([y], lr=0.05, betas=(0.95, 0.999), eps=1e-5), y, 6)
    torch.testing.assert_close(x, (x0 + y) / 2)


def test_ranger_state_round_trip_continues_identically():
    x = torch.zeros(8, requires_grad=True)
    opt = Ranger([x], lr=0.05)
    _run(opt, x, 8)  # mid-way through a lookahead period
    saved_x, saved_state = x.detach().clone(), copy.deepcopy(opt.state_dict())
    _run(opt, x, 10)

    x2 = saved_x.clone().requires_grad_()
    opt2 = Ranger([x2], lr=0.05)
    opt2.load_state_dict(saved_state)
    _run(opt2, x2, 10)
    assert torch.equal(x, x2)


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"alpha": 0.0}, {"alpha": 1.5}])
def test_ranger_rejects_bad_lookahead(kwargs):
    with pytest.raises(ValueError, match="Ranger"):
        Ranger([torch.zeros(1, requires_grad=True)], **kwargs)


# --- recipes --------------------------------------------------------------------------------------

TABLE_I = {  # name: (label, fcam, pyramid)
    "baseline": ("position", True, True), "c1": ("mask", True, True), "c2": ("depth", False, False),
    "c3": ("position", True, False), "c4": ("position", False, True), "c5": ("depth", True, True),
}


@pytest.mark.parametrize("name", sorted(TABLE_I))
def test_table_one_recipes(name):
    cfg = load_config(PIPELINES / f"{name}.yaml")
    assert (cfg.label, cfg.model.fcam, cfg.model.pyramid) == TABLE_I[name]
    assert (cfg.name, cfg.model.width, cfg.batch_size, cfg.lr) == (name, "tiny", 16, 1e-2)
    assert load_config(PIPELINES / "base_oulu.yaml").lr == 1e-4  # the paper's setting


def test_oulu_recipe():
    cfg = load_config(PIPELINES / "base_oulu.yaml", ["data.protocol=3", "data.fold=2", "epochs=2"])
    assert (cfg.model.width, cfg.data.source, cfg.data.protocol, cfg.data.fold) == ("base", "oulu", 3, 2)


def _recipe(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, overrides, match", [
    ("data: {path: x.csv}\nepoch: 3\n", [], r"unknown key epoch\. Fix: .*epochs"),
    ("data: {path: x.csv, sorce: csv}\n", [], r"unknown key data\.sorce"),
    ("data: {path: x.csv}\nepochs: ten\n", [], r"epochs must be an integer, got 'ten' \(str\)\. Fix: write epochs as an integer"),
    ("data: {path: x.csv}\nmodel: {width: huge}\n", [], r"model\.width='huge'.*Fix: use one of base, tiny"),
    ("data: {path: x.csv}\nlabel: depths\n", [], r"label='depths'.*depth"),
    ("data: {path: x.csv}\n", ["lr=-1"], r"lr=-1\.0 is invalid"),
    ("data: {path: x.csv}\n", ["model.fcam=maybe"], r"model\.fcam must be true or false"),
    ("data: {path: x.csv}\n", ["model.size=30"], r"model\.size=30.*multiple of 8"),
    ("data: {path: x.csv}\n", ["data.capture=1.5"], r"data\.capture=1\.5.*probability in \[0, 1\]"),
    ("data: {path: x.csv, stabilise: true, box_shift: 0.05}\n", [], r"data\.stabilise=True.*box_shift"),
    ("data: {path: x.csv}\n", ["data.box_draws=0"], r"data\.box_draws=0.*Fix: give 1"),
    ("data: {path: x.csv}\n", ["data.live_bag=0"], r"data\.live_bag=0.*Fix: give 1"),
    ("data: {path: x.csv}\n", ["data.intervals=[0, 3]"], r"data\.intervals=\[0, 3\].*Fix: list frame intervals"),
    ("data: {path: x.csv}\n", ["data.intervals=[two]"], r"data\.intervals\[0\] must be an integer"),
    ("data: {path: x.csv, intervals: [2, 3], box_shift: 0.05}\n", [], r"data\.intervals=\[2, 3\].*box_shift"),
    ("data: {path: x.csv}\n", ["aggregate=median"], r"aggregate='median'.*Fix: use one of mean, max"),
    ("data: {path: x.csv}\n", ["data.resample=cubic"], r"data\.resample='cubic'.*Fix: use one of linear, lanczos"),
    ("data: {path: x.csv, box_draws: 4, box_shift: 0.05}\n", [], r"data\.box_draws=4.*box_shift"),
    ("data: {path: x.csv}\n", ["lr_schedule=step"], r"lr_schedule='step'.*constant, cosine"),
    ("data: {path: x.csv}\n", ["lr_floor=2"], r"lr_floor=2\.0.*share of lr in \[0, 1\]"),
    ("data: {path: x.csv}\nepochs: 10\n", ["swa_from=11"], r"swa_from=11.*Fix: use 0 \(off\) or an epoch in 1\.\.10"),
    ("data: {source: oulu, path: /o, protocol: 3}\n", [], r"data\.fold=0.*1\.\.6 with protocols 3 and 4"),
    ("epochs: 3\n", [], r"data\.path=''.*Fix: set data\.path"),
    ("data: {path: x.csv}\n", ["epochs"], r"--set 'epochs' is not key=value"),
    ("- a\n- b\n", [], r"must be a mapping"),
    ("base: r.yaml\n", [], r"cycle"),
])
def test_config_errors_name_key_and_fix(tmp_path, text, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_recipe(tmp_path, text), overrides)


def test_config_base_and_overrides(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: p\nlr: 1e-3\nmodel: {width: tiny, fcam: false}\ndata: {path: a.csv}\n")
    path = _recipe(tmp_path, "base: parent.yaml\nname: child\nmodel: {pyramid: false}\n")
    cfg = load_config(path, ["model.fcam=true", "data.jitter=0", "grad_clip=1", "data.intervals=[2, 3]"])
    assert (cfg.name, cfg.lr, cfg.model.fcam, cfg.model.pyramid, cfg.data.path) == ("child", 1e-3, True, False, "a.csv")
    assert (cfg.data.jitter, cfg.grad_clip, cfg.data.intervals) == (0.0, 1.0, [2, 3])
    assert load_config(path, ["data.intervals=4", "data.exclude_families=print-flat"]).data.intervals == [4]
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


# --- clip dataset on a tiny synthetic video set ---------------------------------------------------

def _face(n_frames: int, shift: float = 0.0) -> np.ndarray:
    """68 landmarks per frame of a face centred in a 64x64 frame: jaw arc, brows, inner points."""
    t = np.linspace(np.pi * 0.05, np.pi * 0.95, 17)
    jaw = np.stack([32 - 18 * np.cos(t), 26 + 22 * np.sin(t)], 1)
    brows = np.stack([np.linspace(16, 48, 10), np.full(10, 18.0)], 1)
    inner = np.stack([np.linspace(22, 42, 41), np.linspace(24, 44, 41)], 1)
    pts = np.concatenate([jaw, brows, inner]).astype(np.float32)
    return np.stack([pts + [shift * i, 0] for i in range(n_frames)]).astype(np.float32)


def _video(folder: Path, name: str, live: bool, split: str, n_frames: int = 20, landmarks: bool = True):
    rng = np.random.default_rng(len(name) + 7 * live)
    frames = rng.integers(0, 256, (n_frames, 64, 64, 3), dtype=np.uint8)
    frames[:, 20:50, 16:48] = (200, 150, 120) if live else (120, 120, 200)
    path = write_video(folder / f"{name}.mp4", frames, 25.0)
    marks = None
    if landmarks:
        marks = folder / f"{name}.npy"
        np.save(marks, _face(n_frames, shift=0.2))
    return VideoRecord(path, live, "live" if live else "print", split, name, "s1", marks)


@pytest.fixture(scope="module")
def video_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    records = [_video(folder, f"{split}_{kind}", kind == "live", split)
               for split in ("train", "dev") for kind in ("live", "attack")]
    csv = write_layout_csv(records, folder / "dataset.csv")
    return folder, records, csv


def test_clip_dataset_crops_maps_and_skips(video_set, tmp_path):
    folder, records, _ = video_set
    bad = [_video(tmp_path, "short", True, "train", n_frames=8),
           _video(tmp_path, "unmarked", True, "train", landmarks=False),
           VideoRecord(tmp_path / "gone.mp4", True, "live", "train", "gone", "", tmp_path / "gone.npy")]
    ds = ClipDataset(records[:2] + bad, label="position", size=SIZE)
    assert len(ds) == 4 and ds.video_ids == ["train_live"] * 2 + ["train_attack"] * 2  # clips at frames 0, 10
    assert [v for v, _ in ds.skipped] == ["short", "unmarked", "gone"]
    assert "too short" in ds.skipped[0][1] and "no landmarks" in ds.skipped[1][1]
    clip, maps, live, index = ds[0]
    assert clip.shape == (4, 3, SIZE, SIZE) and maps.shape == (4, 1, SIZE // 8, SIZE // 8)
    assert clip.dtype == maps.dtype == torch.float32 and 0 <= clip.min() and clip.max() <= 1
    assert live is True and index == 0
    assert maps.max() == 1 and maps.min() < 1  # face inside, background outside
    assert ds[2][1].max() == 0  # an attack's position map is empty


def test_augmentation_flips_clip_and_maps_together(video_set):
    records = video_set[1][:1]
    plain = ClipDataset(records, size=SIZE)
    aug = ClipDataset(records, size=SIZE, augment=True, flip=True, jitter=0.0)
    base_clip, base_maps = plain[1][:2]
    seen = set()
    for _ in range(12):
        clip, maps = aug[1][:2]
        flipped = not torch.equal(clip, base_clip)
        assert torch.equal(clip, base_clip.flip(-1) if flipped else base_clip)
        assert torch.equal(maps, base_maps.flip(-1) if flipped else base_maps)
        seen.add(flipped)
    assert seen == {True, False}
    jittered = colour_jitter(base_clip, 0.3)
    assert jittered.shape == base_clip.shape and 0 <= jittered.min() and jittered.max() <= 1
    ratio = jittered[0] / base_clip[0].clamp(min=1e-3)
    assert not torch.allclose(ratio, torch.ones_like(ratio))


def test_face_box_jitter_is_a_crop_of_the_moved_box():
    """reframe() of a margin crop equals cropping the moved box from the frame itself."""
    from fasstream.faces.geometry import crop_frame, face_crop_box

    gy, gx = np.mgrid[0:96, 0:96].astype(np.float32)
    frame = np.stack([128 + 60 * np.sin(gx / 9), 128 + 60 * np.cos(gy / 7), 100 + gx + 0 * gy], -1).astype(np.uint8)
    box, size = face_crop_box(_face(1)[0] + 16, 1.3), 32  # a face in the middle of the 96x96 frame
    stored = crop_frame(frame, margin_box(box, size), margin_size(size))
    clip = torch.from_numpy(stored).permute(2, 0, 1)[None].float() / 255
    for rel in [(0.0, 0.0, 1.0), (0.06, -0.04, 1.05), (-0.05, 0.06, 1 / 1.05)]:
        got = reframe(clip, size, rel)
        want = torch.from_numpy(crop_frame(frame, moved_box(box, rel), size)).permute(2, 0, 1).float() / 255
        assert got.shape == (1, 3, size, size)
        assert (got[0] - want).abs().mean() < (1e-3 if rel == (0.0, 0.0, 1.0) else 0.01), rel
    with pytest.raises(ValueError, match="box_shift"):
        reframe(clip, size, (0.2, 0.0, 1.2))  # the 32-pixel margin crop holds 1.5x


def test_dataset_box_jitter_stores_a_margin_and_draws_maps_for_the_moved_box(video_set):
    from fasstream.labels.maps import face_position_map

    records = video_set[1][:1]  # a live video
    plain = ClipDataset(records, size=SIZE)
    moving = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, box_shift=0.06, box_zoom=0.05)
    assert moving.frames.shape[1] == 1 and moving.frames.shape[3:5] == (margin_size(SIZE), margin_size(SIZE))
    torch.manual_seed(3)
    draws = [moving[0][:2] for _ in range(4)]
    assert all(c.shape == plain[0][0].shape and m.shape == plain[0][1].shape for c, m in draws)
    assert not torch.equal(draws[0][0], draws[1][0])  # a new box every draw
    assert (draws[0][0] - plain[0][0]).abs().mean() < 0.25  # the same face, nearby
    torch.manual_seed(3)
    rel = random_box(0.06, 0.05)
    w = moving.windows[0]
    want = [face_position_map(p, moved_box(w.box, rel), size=SIZE // 8) for p in w.landmarks]
    assert np.allclose(draws[0][1][:, 0].numpy(), np.stack(want))  # the label follows the box
    assert not torch.equal(draws[0][1], plain[0][1])


def test_box_draws_store_sub_pixel_crops_of_the_video_and_their_maps(video_set):
    """box_draws: the landmark crop first, then crops of boxes moved by <= 1/2 crop pixel, reproducible, one a draw."""
    from fasstream.labels.maps import face_position_map

    records = video_set[1][:1]  # a live video
    plain = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0)
    draws = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, box_draws=3)
    again = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, box_draws=3)
    assert draws.frames.shape == (len(plain), 3, 4, SIZE, SIZE, 3) and draws.maps.shape[:2] == (len(plain), 3)
    assert np.array_equal(draws.frames[:, 0], plain.frames[:, 0]) and np.array_equal(draws.maps[:, 0], plain.maps[:, 0])
    assert np.array_equal(draws.frames, again.frames)  # seeded by the video id
    moved = np.abs(draws.frames[:, 1:].astype(int) - draws.frames[:, :1]).mean()
    assert 0 < moved < np.abs(plain.frames[:1].astype(int) - np.roll(plain.frames[:1], 1, axis=3)).mean()
    w = draws.windows[0]  # clip 0's second crop: the box moved by the video's first seeded offset
    dx, dy = np.random.default_rng(zlib.crc32(records[0].video_id.encode())).uniform(-0.5, 0.5, 2) * w.box[2] / SIZE
    box = (w.box[0] + dx, w.box[1] + dy, w.box[2])
    video, _ = read_video(records[0].path)
    assert np.array_equal(draws.frames[0, 1], crop_clip(video, ClipWindow(w.frames, box), SIZE))
    want = np.stack([face_position_map(p, box, size=SIZE // 8) for p in w.landmarks])
    assert np.array_equal(draws.maps[0, 1], np.round(want * 255).astype(np.uint8))
    torch.manual_seed(0)
    seen = {draws[0][0].sum().item() for _ in range(20)}
    assert len(seen) == 3  # every stored crop is drawn
    assert ClipDataset(records, size=SIZE, box_draws=3).frames.shape[1] == 1  # dev and test: the landmark box only
    with pytest.raises(ValueError, match="box_draws"):
        ClipDataset(records, size=SIZE, augment=True, box_draws=2, box_shift=0.05)


def test_intervals_store_each_clip_respaced_from_its_first_frame(video_set):
    """intervals: per clip, the crop of frames start, start + d, ... boxed by their own landmarks, for every d;
    a spacing that runs past the video stores the clip as cut; dev and test keep the paper's interval."""
    from fasstream.data.faceclips import clip_window

    records = video_set[1][:1]  # a live video of 20 frames: clips start at frames 0 and 10
    plain = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0)
    spaced = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, intervals=(2, 3, 4))
    assert spaced.frames.shape == (len(plain), 3, 4, SIZE, SIZE, 3) and len(plain) == 2
    assert np.array_equal(spaced.frames[:, 1], plain.frames[:, 0]) and np.array_equal(spaced.maps[:, 1], plain.maps[:, 0])
    video, _ = read_video(records[0].path)
    points = np.load(records[0].landmarks)
    for k, d in ((0, 2), (2, 4)):
        w = clip_window(points, 0, 1.3, d)
        assert list(w.frames) == [0, d, 2 * d, 3 * d]
        assert np.array_equal(spaced.frames[0, k], crop_clip(video, w, SIZE))
    assert np.array_equal(spaced.frames[1, 2], plain.frames[1, 0])  # frames 10..22 run past the video: as cut
    assert not np.array_equal(spaced.frames[0, 0], spaced.frames[0, 1])
    torch.manual_seed(0)
    assert len({spaced[0][0].sum().item() for _ in range(20)}) == 3  # every spacing is drawn
    assert ClipDataset(records, size=SIZE, intervals=(2, 3, 4)).frames.shape[1] == 1  # dev and test: interval 3
    with pytest.raises(ValueError, match="intervals"):
        ClipDataset(records, size=SIZE, augment=True, intervals=(0, 3))
    with pytest.raises(ValueError, match="intervals"):
        ClipDataset(records, size=SIZE, augment=True, intervals=(2, 3), box_shift=0.05)


def test_stabilised_dataset_stills_a_moving_plane_and_its_maps(tmp_path):
    """A photo panned across the frame: stabilised clips stand still, and every frame's map is frame 0's."""
    import cv2
    import skimage.data

    photo = cv2.resize(skimage.data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    frames = np.stack([np.roll(photo, (i // 6, i // 3), axis=(0, 1))[32:96, 40:104] for i in range(20)])
    marks = np.stack([_face(1)[0] + (i // 3, i // 6) for i in range(20)]).astype(np.float32)
    np.save(tmp_path / "pan.npy", marks)
    rec = VideoRecord(write_video(tmp_path / "pan.mp4", frames, 25.0, crf=10), True, "live", "train", "pan", "s",
                      tmp_path / "pan.npy")
    plain, steady = ClipDataset([rec], size=SIZE), ClipDataset([rec], size=SIZE, stabilise=True)
    change = lambda clip: (clip[1:] - clip[:1])[..., 6:-6, 6:-6].abs().mean().item()
    for i in range(len(steady)):
        assert change(steady[i][0]) < 0.4 * change(plain[i][0])
        maps = steady[i][1]
        assert (maps[1:] - maps[:1]).abs().max() < 0.1 < (plain[i][1][3] - plain[i][1][0]).abs().max()
    once = ClipDataset([rec], size=SIZE, stabilise=True, resample="lanczos")  # each frame sampled once, by Lanczos
    video, _ = read_video(rec.path)
    assert np.array_equal(once.frames[0, 0], stabilised_crop(video, once.windows[0], SIZE, "lanczos")[0])
    assert change(once[0][0]) < 0.4 * change(plain[0][0]) and (once[0][1][1:] - once[0][1][:1]).abs().max() < 0.1
    rigid = ClipDataset([rec], size=SIZE, augment=True, flip=False, jitter=0.0, rigid=1.0, stabilise=True)
    torch.manual_seed(0)
    clip, maps, live, _ = rigid[0]  # a planar hard negative is stabilised too, as every clip the model sees
    assert not live and maps.max() == 0 and change(clip) < 0.05


def test_temporal_negatives_keep_single_frames_and_remove_motion():
    torch.manual_seed(1)
    clip = torch.rand(4, 3, 32, 32) * 0.8 + 0.1
    still = freeze_clip(clip)
    assert still.shape == clip.shape and (still - clip[0]).abs().max() < 0.05  # the first frame, plus noise
    assert not torch.equal(still[1], still[2])  # fresh noise in every frame
    moved = rigid_clip(clip, max_sigma=0.0)
    assert (moved[3] - moved[0]).abs().mean() > 1e-3  # it moves
    flat = torch.linspace(0, 1, 32).expand(4, 3, 32, 32).contiguous()  # a horizontal ramp stays a plane
    ramp = rigid_clip(flat, max_sigma=0.0)
    grad_x = ramp[..., 1:] - ramp[..., :-1]
    assert grad_x[..., 4:-4, 4:-4].std() < 0.01  # planar motion keeps the ramp a ramp: no local deformation


def test_temporal_augmentation_relabels_live_clips(video_set):
    records = video_set[1]
    live = next(i for i, r in enumerate(ClipDataset(records, size=SIZE).live) if r)
    aug = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, still=1.0)
    clip, maps, is_live, _ = aug[live]
    assert not is_live and maps.max() == 0 and torch.allclose(clip[1], clip[0], atol=0.05)
    attack = next(i for i, r in enumerate(aug.live) if not r)
    assert torch.equal(aug[attack][0], ClipDataset(records, size=SIZE)[attack][0])  # attacks are left alone


def test_h264_roundtrip_copies_static_blocks_at_high_crf():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(20, 230, 64, dtype=np.float32)[None, :, None], (64, 1, 3))
    clip = np.stack([ramp + rng.normal(0, 2, ramp.shape) for _ in range(4)]).clip(0, 255).astype(np.uint8)
    frame_change = lambda c: np.abs(np.diff(c.astype(int), axis=0)).mean()
    soft, hard = h264_roundtrip(clip, 18), h264_roundtrip(clip, 40)
    assert soft.shape == hard.shape == clip.shape and soft.dtype == np.uint8
    assert np.abs(hard.astype(int) - ramp).mean() < 6  # the picture survives
    assert frame_change(hard) < 0.2 * frame_change(clip) < frame_change(soft) + 0.2 * frame_change(clip)
    with pytest.raises(ValueError, match="even"):
        h264_roundtrip(clip[:, :63], 30)


def test_capture_degradation_keeps_shape_range_and_labels(video_set):
    torch.manual_seed(3)
    clip = torch.rand(4, 3, 32, 32) * 0.8 + 0.1
    outs = [degrade_clip(clip) for _ in range(12)]
    assert all(o.shape == clip.shape and 0 <= o.min() and o.max() <= 1 for o in outs)
    assert sum(not torch.allclose(o, clip, atol=1e-3) for o in outs) >= 10  # 1 in 8 draws skips every step
    torch.manual_seed(5)
    again = degrade_clip(clip)
    torch.manual_seed(5)
    assert torch.equal(again, degrade_clip(clip))  # seeded: a run can be repeated
    changed, clips = share_changed_labels_kept(video_set[1], capture=1.0)
    assert changed >= clips // 2


def share_changed_labels_kept(records, **augmentation) -> tuple[int, int]:
    """(clips changed, clips) of ``records`` under ``augmentation``; asserts that every class keeps its labels."""
    plain = ClipDataset(records, size=SIZE)
    aug = ClipDataset(records, size=SIZE, augment=True, flip=False, jitter=0.0, **augmentation)
    changed = 0
    for i in range(len(aug)):
        clip, maps, live, _ = aug[i]
        assert live == plain.live[i] and torch.equal(maps, plain[i][1])
        changed += not torch.equal(clip, plain[i][0])
    return changed, len(aug)


def test_detail_change_sharpens_or_softens_every_frame_alike(video_set):
    laplacian_var = lambda c: (4 * c[..., 1:-1, 1:-1] - c[..., :-2, 1:-1] - c[..., 2:, 1:-1]
                               - c[..., 1:-1, :-2] - c[..., 1:-1, 2:]).var().item()
    torch.manual_seed(0)
    clip = gaussian_blur(torch.rand(1, 3, 48, 48), 1.0).mul_(0.8).add_(0.1).repeat(4, 1, 1, 1)  # a held frame
    torch.manual_seed(1)
    outs = [detail_clip(clip) for _ in range(40)]
    changes = [laplacian_var(o) / laplacian_var(clip) for o in outs]
    assert sum(c > 1.5 for c in changes) >= 10 and sum(c < 0.7 for c in changes) >= 10  # both ways, often
    assert all(abs(c - 1) > 0.1 for c in changes)  # never a no-op
    assert all(o.shape == clip.shape and 0 <= o.min() and o.max() <= 1 for o in outs)
    assert all(torch.equal(o[1:], o[:1].expand(3, -1, -1, -1)) for o in outs)  # a held frame stays held: no time cue
    blurred = gaussian_blur(clip, 0.8)
    assert torch.allclose(blurred.mean(), clip.mean(), atol=2e-3)  # a blur moves no brightness
    changed, clips = share_changed_labels_kept(video_set[1], detail=1.0)
    assert changed == clips  # live and attack clips alike


def test_balanced_sampler_draws_both_classes_equally():
    live = [True] * 10 + [False] * 90
    sampler = BalancedSampler(live, seed=3)
    sampler.set_epoch(1)
    drawn = list(sampler)
    assert len(drawn) == 100 and 0.35 < np.mean([live[i] for i in drawn]) < 0.65
    sampler.set_epoch(2)
    assert list(sampler) != drawn
    halves = [list(BalancedSampler(live, 2, r, seed=3)) for r in (0, 1)]
    for half in halves:
        half_sampler = BalancedSampler(live, 2, 0, seed=3)
        assert len(half) == len(half_sampler) == 50
    with pytest.raises(ValueError, match="live and attack"):
        BalancedSampler([True, True])


def test_build_datasets_from_csv(video_set):
    cfg = TrainConfig.from_dict({"label": "depth", "model": {"size": SIZE}, "data": {"path": str(video_set[2])}})
    train_set, dev_set = build_datasets(cfg)
    assert set(train_set.video_ids) == {"train_live", "train_attack"} and train_set.augment
    assert set(dev_set.video_ids) == {"dev_live", "dev_attack"} and not dev_set.augment
    assert dev_set.maps.dtype == np.uint8 and dev_set.maps.max() > 0


def test_landmarks_from_label_cache(video_set, tmp_path):
    from fasstream.labels.cache import label_dataset

    _, records, csv = video_set
    summary = label_dataset(csv, tmp_path / "labels", labels=("position",), detector="precomputed", progress=False)
    assert not summary.skipped
    from_cache = ClipDataset(records[:1], size=SIZE, cache=tmp_path / "labels")
    from_npy = ClipDataset(records[:1], size=SIZE)
    assert np.array_equal(from_cache.frames, from_npy.frames) and np.array_equal(from_cache.maps, from_npy.maps)


# --- the loop -------------------------------------------------------------------------------------

class RandomClips(Dataset):
    """Random clips, one video each; live clips are brighter and their target maps are ones."""

    def __init__(self, n: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.live = [i % 2 == 0 for i in range(n)]
        self.species = ["live" if x else "print" for x in self.live]
        self.video_ids = [f"v{i}" for i in range(n)]
        live = torch.tensor(self.live, dtype=torch.float32).view(n, 1, 1, 1, 1)
        self.clips = torch.rand(n, 4, 3, SIZE, SIZE, generator=g) * 0.5 + live * 0.5
        self.maps = live.expand(n, 4, 1, SIZE // 8, SIZE // 8)

    def __len__(self):
        return len(self.live)

    def __getitem__(self, i):
        return self.clips[i], self.maps[i], self.live[i], i


def _cfg(out: Path, **kw) -> TrainConfig:
    raw = {"name": "t", "out": str(out), "model": {"width": "tiny", "size": SIZE}, "data": {"path": "unused.csv"},
           "epochs": 2, "batch_size": 2, "lr": 1e-3, "log_every": 1, "device": "cpu"}
    return TrainConfig.from_dict({**raw, **kw})


def _step_losses(out: Path) -> list[float]:
    lines = [json.loads(x) for x in (out / "t" / "log.jsonl").read_text().splitlines()]
    return [x["loss"] for x in lines if x["event"] == "step"]


def test_training_decreases_loss_and_writes_checkpoints(tmp_path):
    model, history = train(_cfg(tmp_path, epochs=4, lr=3e-3), data=(RandomClips(), RandomClips(seed=1)))
    losses = [h["loss"] for h in history]
    assert len(history) == 4 and losses[-1] < losses[0]
    run = tmp_path / "t"
    for name in ("last.pt", "best.pt", "curves.png", "log.jsonl"):
        assert (run / name).is_file(), name
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert {"model", "config", "threshold", "metrics", "version"} <= set(ckpt)
    assert ckpt["config"]["label"] == "position" and ckpt["epoch"] == 4 and ckpt["config"]["stabilise"] is False
    assert ckpt["trained_with"] == {"torch": str(torch.__version__), "threads": torch.get_num_threads()}
    assert {"acer", "apcer", "bpcer", "eer", "threshold"} <= set(ckpt["metrics"])
    rebuilt = EulerNet.from_config(ckpt["config"])
    rebuilt.load_state_dict(ckpt["model"])
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["metrics"]["acer"] == min(h["dev"]["acer"] for h in history)
    assert best["epoch"] == max(h["epoch"] for h in history if h["dev"]["acer"] == best["metrics"]["acer"])
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(tmp_path), data=(RandomClips(), RandomClips(seed=1)))


def test_resume_continues_identically(tmp_path):
    data = (RandomClips(), RandomClips(seed=1))
    straight, _ = train(_cfg(tmp_path / "a", epochs=3), data=data)
    train(_cfg(tmp_path / "b", epochs=1), data=data)
    resumed, history = train(_cfg(tmp_path / "b", epochs=3), data=data, resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert _step_losses(tmp_path / "a") == _step_losses(tmp_path / "b")
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_cfg(tmp_path / "c"), data=data, resume=True)


def test_swa_averages_the_weights_of_the_last_epochs_and_resumes(tmp_path):
    """swa_from=2 of 3 epochs: swa.pt holds the mean of the epoch-2 and epoch-3 weights, with BatchNorm statistics
    of its own, scored on dev; a run stopped after epoch 2 and resumed gives the same."""
    from fasstream.model.checkpoint import load_checkpoint

    data = (RandomClips(), RandomClips(seed=1))
    train(_cfg(tmp_path, epochs=2, swa_from=2), data=data)
    second = torch.load(tmp_path / "t" / "last.pt", weights_only=True)["model"]
    alone = torch.load(tmp_path / "t" / "swa.pt", weights_only=True)["model"]  # the mean of epoch 2 alone
    assert all(torch.equal(alone[n], w) for n, w in second.items() if n.endswith(".weight"))
    third, _ = train(_cfg(tmp_path, epochs=3, swa_from=2), data=data, resume=True)
    swa = torch.load(tmp_path / "t" / "swa.pt", weights_only=True)
    for name, weight in third.state_dict().items():
        if name.endswith(".weight") and weight.dtype.is_floating_point:
            torch.testing.assert_close(swa["model"][name], (second[name] + weight) / 2)
    means = [n for n in swa["model"] if n.endswith("running_mean")]
    assert means and any(not torch.equal(swa["model"][n], third.state_dict()[n]) for n in means)
    lines = [json.loads(x) for x in (tmp_path / "t" / "log.jsonl").read_text().splitlines()]
    assert [x["averaged"] for x in lines if x["event"] == "swa"][-1] == 2
    assert swa["metrics"]["threshold"] == swa["threshold"] and swa["config"]["recipe"]["swa_from"] == 2
    _, meta = load_checkpoint(tmp_path / "t" / "swa.pt")
    assert meta["threshold"] == swa["threshold"]
    straight = tmp_path / "straight"
    train(_cfg(straight, epochs=3, swa_from=2), data=data)
    again = torch.load(straight / "t" / "swa.pt", weights_only=True)["model"]
    for name, value in swa["model"].items():
        torch.testing.assert_close(again[name], value)  # stopping and resuming does not change the average
    train(_cfg(tmp_path / "plain", epochs=1), data=data)
    with pytest.raises(ValueError, match="trained without weight averaging"):
        train(_cfg(tmp_path / "plain", epochs=2, swa_from=2), data=data, resume=True)


class CrashingClips(RandomClips):
    """RandomClips that raise after serving ``after`` items: a run killed mid-epoch."""

    def __init__(self, after: int):
        super().__init__()
        self.left = after

    def __getitem__(self, i):
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("killed")
        return super().__getitem__(i)


def test_cosine_lr_decays_to_its_floor_and_resumes_identically(tmp_path):
    cfg = _cfg(tmp_path, lr=1e-2, lr_schedule="cosine", lr_floor=0.1)
    lrs = [lr_at(cfg, step, 11) for step in range(11)]
    assert lrs[0] == pytest.approx(1e-2) and lrs[5] == pytest.approx(5.5e-3) and lrs[-1] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(lrs))
    assert lr_at(_cfg(tmp_path, lr=1e-2), 7, 11) == 1e-2  # constant
    cosine = {"epochs": 3, "lr_schedule": "cosine", "lr_floor": 0.1}
    straight, _ = train(_cfg(tmp_path / "a", **cosine), data=(RandomClips(), RandomClips(seed=1)))
    lines = [json.loads(x) for x in (tmp_path / "a" / "t" / "log.jsonl").read_text().splitlines()]
    logged = [x["lr"] for x in lines if x["event"] == "step"]  # 4 clips, batch 2: 2 steps an epoch
    assert logged == pytest.approx([lr_at(_cfg(tmp_path, **cosine), step, 6) for step in range(6)])
    with pytest.raises(RuntimeError, match="killed"):  # killed in epoch 2, then resumed
        train(_cfg(tmp_path / "b", **cosine), data=(CrashingClips(after=5), RandomClips(seed=1)))
    resumed, _ = train(_cfg(tmp_path / "b", **cosine), data=(RandomClips(), RandomClips(seed=1)), resume=True)
    assert _step_losses(tmp_path / "a") == _step_losses(tmp_path / "b")  # the lr follows the step
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)


def test_loop_rejects_unusable_data(tmp_path):
    one_class = RandomClips(n=2)
    one_class.live = [True, True]
    with pytest.raises(ValueError, match="dev split .* needs live and attack"):
        train(_cfg(tmp_path), data=(RandomClips(), one_class))


def _ddp_worker(rank: int, port: int, out: str):
    import os
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    model, _ = train(_cfg(Path(out), epochs=1, batch_size=4), data=(RandomClips(n=8), RandomClips(seed=1)))
    torch.save(model.state_dict(), Path(out) / f"rank{rank}.pt")


def test_ddp_gloo_two_processes_agree(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, str(tmp_path)), nprocs=2)
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    start = EulerNet("tiny", size=SIZE).state_dict()
    assert any(not torch.equal(a[k], start[k]) for k in a if a[k].is_floating_point())
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert (tmp_path / "t" / "last.pt").is_file() and len(_step_losses(tmp_path)) == 2  # 8 clips / (2 x 2)


def test_live_clips_are_trained_as_the_most_live_clip_of_their_video(video_set):
    data = ClipDataset([r for r in video_set[1] if r.split == "train"], size=SIZE)  # not augmented: items are fixed
    torch.manual_seed(0)
    data.frames[1::2] //= 3  # every video's second clip darker, so that its clips score apart
    model = EulerNet("tiny", size=SIZE)
    with torch.no_grad():  # untrained, the head says 0.5 to everything
        for p in model.parameters():
            p.normal_(0, 0.3)
    clips, maps, live, index = torch.utils.data.default_collate([data[i] for i in range(len(data))])
    model.eval()
    with torch.no_grad():
        scores = score(model(clips))
    model.train()
    picked, picked_maps = most_live_instances(model, data, clips, maps, live, index, bag=len(data))
    assert model.training and live.any() and not live.all()
    for row in range(len(data)):
        video = data.clips_of(row)
        assert len(video) == 2 and abs(float(scores[video[0]] - scores[video[1]])) > 1e-5
        want = max(video, key=lambda j: float(scores[j])) if live[row] else row
        assert torch.equal(picked[row], clips[want]) and torch.equal(picked_maps[row], maps[want])
    assert most_live_instances(model, data, clips, maps, live, index, bag=1)[0] is clips


def test_multiple_instance_training_keeps_its_video_rule_in_the_checkpoint(video_set, tmp_path):
    cfg = _cfg(tmp_path, epochs=1, aggregate="max", data={"path": str(video_set[2]), "live_bag": 2})
    train(cfg)
    ckpt = torch.load(tmp_path / "t" / "best.pt", weights_only=True)
    assert ckpt["config"]["aggregate"] == "max" and ckpt["config"]["recipe"]["data"]["live_bag"] == 2


def test_cli_trains_from_a_recipe(video_set, tmp_path, capsys):
    recipe = _recipe(tmp_path, f"name: cli\nout: {tmp_path}\nmodel: {{size: {SIZE}}}\n"
                               f"data: {{path: {video_set[2]}}}\nepochs: 1\nbatch_size: 2\ndevice: cpu\n")
    assert cli_main(["train", str(recipe), "--set", "label=mask", "lr=1e-3"]) == 0
    ckpt = torch.load(tmp_path / "cli" / "best.pt", weights_only=True)
    assert ckpt["config"]["label"] == "mask" and ckpt["config"]["recipe"]["lr"] == 1e-3
    assert cli_main(["train", str(recipe), "--set", "epochs=0"]) == 2
    assert "epochs=0 is invalid" in capsys.readouterr().err
    assert cli_main(["train", str(recipe), "--set", f"data.path={tmp_path / 'none.csv'}", "name=none"]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err
