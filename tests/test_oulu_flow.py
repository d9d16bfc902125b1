"""The OULU-NPU flow end to end on a miniature OULU-NPU tree of synthetic H.264 videos:
`fasstream label --oulu`, `fasstream train pipelines/train/base_oulu.yaml`, `fasstream eval --oulu`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fasstream.cli import main
from fasstream.data.synthetic import make_identity, render_video
from fasstream.data.video import read_video, write_video
from fasstream.labels.cache import load_labels

RECIPE = Path(__file__).resolve().parents[1] / "pipelines" / "train" / "base_oulu.yaml"
SPECIES = {1: "live", 2: "print", 3: "print", 4: "replay", 5: "replay"}  # access digit -> synthetic species
# folder -> video ids (Phone_Session_Subject_Access); 1_1_21_1 is in Dev_files and Test_files: two videos, one name
VIDEOS = {"Train": ["1_1_01_1", "1_1_01_2", "1_1_01_4"], "Dev": ["1_1_21_1", "1_1_21_3", "1_1_21_5"],
          "Test": ["1_3_36_1", "1_3_36_2", "1_3_36_4", "1_1_21_1"]}
LISTS = {"Train": VIDEOS["Train"], "Dev": VIDEOS["Dev"], "Test": VIDEOS["Test"]}
LABEL = {1: "+1", 2: "-1", 3: "-1", 4: "-2", 5: "-2"}
SMALL = ["model.width=tiny", "model.size=32", "epochs=1", "batch_size=4", "data.workers=0", "device=cpu",
         "log_every=1"]


def _write_list(path: Path, ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{LABEL[int(v[-1])]},{v}\n" for v in ids))


@pytest.fixture(scope="module")
def oulu(tmp_path_factory):
    """(root, landmark folder): OULU-NPU layout with Protocol_1 and the six folds of Protocol_3.

    Train landmarks are precomputed files in a separate folder mirroring the tree, Dev ones lie
    beside their videos, Test videos have none (dlib finds them). One Dev video is an .mp4.
    """
    base = tmp_path_factory.mktemp("oulu")
    root, marks = base / "OULU-NPU", base / "landmarks"
    for folder, ids in VIDEOS.items():
        (root / f"{folder}_files").mkdir(parents=True)
        for k, video_id in enumerate(ids):
            phone, session, subject, access = (int(x) for x in video_id.split("_"))
            identity = make_identity(("astronaut", "grace_hopper")[subject % 2], seed=100 * subject + k)
            frames, points, fps = render_video(identity, SPECIES[access], [subject, access, k])
            suffix = ".mp4" if video_id == "1_1_21_3" else ".avi"
            video = write_video(root / f"{folder}_files" / f"{video_id}{suffix}", frames, fps, reproducible=True)
            if folder == "Train":
                (marks / "Train_files").mkdir(parents=True, exist_ok=True)
                np.save(marks / "Train_files" / f"{video_id}.npy", points)
            elif folder == "Dev":
                np.save(video.with_suffix(".npy"), points)
    for split, ids in LISTS.items():
        _write_list(root / "Protocols" / "Protocol_1" / f"{split}.txt", ids)
        for fold in range(1, 7):  # odd folds test without the second live video: the folds differ
            kept = [v for v in ids if not (split == "Test" and fold % 2 and v == "1_1_21_1")]
            _write_list(root / "Protocols" / "Protocol_3" / f"{split}_{fold}.txt", kept)
    assert main(["label", "--oulu", str(root), "--landmarks", str(marks), "--labels", "position",
                 "--no-progress"]) == 0
    return root, marks


def test_label_caches_every_video_under_its_folder(oulu, capsys):
    root, marks = oulu
    cache = root / "labels"
    assert sorted(p.relative_to(cache).with_suffix("").as_posix() for p in cache.rglob("*.npz")) == sorted(
        f"{folder}_files/{v}" for folder, ids in VIDEOS.items() for v in ids)
    detectors = {p.parent.name: str(load_labels(cache, p.relative_to(cache).with_suffix("").as_posix())["detector"])
                 for p in cache.rglob("*.npz")}
    assert detectors == {"Train_files": "precomputed", "Dev_files": "precomputed", "Test_files": "dlib"}
    dev_twin, test_twin = load_labels(cache, "Dev_files/1_1_21_1"), load_labels(cache, "Test_files/1_1_21_1")
    assert len(dev_twin["landmarks"]) == len(read_video(root / "Dev_files" / "1_1_21_1.avi")[0])
    assert len(test_twin["landmarks"]) == len(read_video(root / "Test_files" / "1_1_21_1.avi")[0])
    assert not np.array_equal(dev_twin["boxes"][:5], test_twin["boxes"][:5])  # two videos, two entries
    capsys.readouterr()
    assert main(["label", "--oulu", str(root), "--landmarks", str(marks), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "labelled 0 videos" in out and "already cached 10, skipped 0" in out


def test_train_and_eval_protocol_1_through_the_cache(oulu, tmp_path, capsys):
    root, _ = oulu
    cache = root / "labels"
    assert main(["train", str(RECIPE), "--set", f"data.path={root}", f"data.cache={cache}", f"out={tmp_path}",
                 *SMALL]) == 0
    run = tmp_path / "oulu_p1_base"
    ckpt = torch.load(run / "best.pt", weights_only=True)
    assert ckpt["config"]["recipe"]["data"]["cache"] == str(cache) and ckpt["epoch"] == 1
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["dev"]["videos"] for x in log if x["event"] == "epoch"] == [3]  # every dev video was usable

    capsys.readouterr()
    report = tmp_path / "eval"
    assert main(["eval", "--model", str(run / "best.pt"), "--oulu", str(root), "--protocol", "1",
                 "--out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert f"landmarks from the label cache {cache}" in printed and "test: 4 videos scored, 0 skipped" in printed
    results = json.loads((report / "results.json").read_text())
    assert results["test"]["counts"] == {"live": 2, "print": 1, "display": 1}
    assert set(results["test"]["apcer"]) == {"print", "display"}
    assert results["test"]["still_probe"]["videos"] == 2  # the still probe needs only live videos: OULU-NPU has them
    for key in ("bpcer", "acer", "apcer_worst"):
        assert 0 <= results["test"][key] <= 1
    table = (report / "results.md").read_text()
    assert all(h in table for h in ("APCER display", "APCER print", "BPCER", "ACER"))

    partial = tmp_path / "partial"  # eval takes landmarks from the cache only: a video missing there is skipped
    shutil.copytree(cache, partial)
    (partial / "Test_files" / "1_3_36_2.npz").unlink()
    assert main(["eval", "--model", str(run / "best.pt"), "--oulu", str(root), "--protocol", "1",
                 "--cache", str(partial), "--out", str(tmp_path / "eval2")]) == 0
    assert "test: 3 videos scored, 1 skipped" in capsys.readouterr().out


def test_protocol_3_folds_mean_and_std(oulu, tmp_path, capsys):
    root, _ = oulu
    for fold in range(1, 7):
        assert main(["train", str(RECIPE), "--set", f"data.path={root}", f"data.cache={root / 'labels'}",
                     "data.protocol=3", f"data.fold={fold}", f"name=p3_{fold}", f"out={tmp_path}", *SMALL]) == 0
    report = tmp_path / "eval"
    assert main(["eval", "--model", str(tmp_path / "p3_{fold}" / "best.pt"), "--oulu", str(root), "--protocol", "3",
                 "--fold", "all", "--out", str(report)]) == 0
    results = json.loads((report / "results.json").read_text())
    assert [f["test"]["counts"]["live"] for f in results["folds"]] == [1, 2, 1, 2, 1, 2]
    assert results["summary"]["n_folds"] == 6 and set(results["summary"]["test"]["acer"]) == {"mean", "std"}
    assert set(results["summary"]["test"]["still_probe"]["apcer"]) == {"mean", "std"}
    assert "Mean ± std over 6 folds" in (report / "results.md").read_text()


def test_bad_protocol_lists_name_the_line_and_the_fix(oulu, tmp_path, capsys, caplog):
    root, _ = oulu
    bad = tmp_path / "OULU-NPU"
    shutil.copytree(root / "Protocols", bad / "Protocols")
    for folder in ("Train_files", "Dev_files", "Test_files"):
        (bad / folder).symlink_to(root / folder)
    train_list = bad / "Protocols" / "Protocol_1" / "Train.txt"
    train_list.write_text("+1,1_1_01_1\n-1;1_1_01_2\n")
    args = ["train", str(RECIPE), "--set", f"data.path={bad}", f"data.cache={root / 'labels'}", f"out={tmp_path}",
            *SMALL]
    assert main(args) == 2
    assert f"{train_list}:2: expected 'label,video_id'" in capsys.readouterr().err

    train_list.write_text("+1,1_1_01_1\n-1,1_1_01_2\n-2,1_1_01_4\n-1,1_1_01_3\n")  # 1_1_01_3 is not on disk
    test_list = bad / "Protocols" / "Protocol_1" / "Test.txt"
    test_list.write_text("+1,1_3_36_1\n+1,1_3_36_2\n")
    assert main(args) == 0
    assert f"Train.txt are not in {bad / 'Train_files'}" in caplog.text and "line 4 1_1_01_3" in caplog.text
    assert "put <video_id>.avi or .mp4 there, or delete those lines" in caplog.text
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "oulu_p1_base" / "best.pt"), "--oulu", str(bad),
                 "--protocol", "1", "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert f"{test_list}:2: label +1 contradicts access digit 2" in err and "fix the sign" in err
