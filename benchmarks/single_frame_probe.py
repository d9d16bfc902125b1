"""Can one frame tell live from the temporal attacks? A check of the generator's capture randomisation.

    python benchmarks/single_frame_probe.py --data data/synthetic/dataset.csv --out runs/probe

For every video of the train and test splits it takes face crops of single frames (the first frame of
every clip, cropped as training crops them) and trains two single-frame classifiers on the train
split: a logistic regression on per-frame statistics (colour mean and spread, sensor-noise residual,
sharpness, high-frequency energy) and a small CNN on the crops. It reports their test AUC for live
against each attack species (``--by family``: each attack family). ``still`` and ``rigid`` are built
so that only time separates them from live: their AUC should sit near 0.5, while the per-frame species
(print, replay, animated) show that the probe itself can separate what one frame does reveal. Writes probe.json and probe.png to --out.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from tqdm import tqdm

from fasstream.data.faceclips import clip_windows, crop_clip
from fasstream.data.records import read_layout_csv
from fasstream.data.video import read_video


def frame_crops(records, size: int, by: str = "species") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """First-frame crops (K, size, size, 3) uint8 of every clip, their live flags and groups (the
    records' ``by``: species or family)."""
    crops, live, groups = [], [], []
    for rec in tqdm(records, desc="crops", unit="video"):
        frames, _ = read_video(rec.path)
        for window in clip_windows(np.load(rec.landmarks)):
            crops.append(crop_clip(frames, window, size)[0])
            live.append(rec.live)
            groups.append(getattr(rec, by))
    return np.stack(crops), np.asarray(live), groups


def statistics(crops: np.ndarray) -> np.ndarray:
    """Per-frame statistics (K, 13): colour mean and std, noise residual per channel, sharpness, HF energy."""
    rows = []
    for crop in crops:
        image = crop.astype(np.float32)
        residual = image - cv2.medianBlur(crop, 3).astype(np.float32)
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
        spectrum = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean())))
        h, w = grey.shape
        yy, xx = np.ogrid[:h, :w]
        far = np.hypot(yy - h / 2, xx - w / 2) > min(h, w) / 4
        rows.append(np.r_[image.mean((0, 1)), image.std((0, 1)), residual.std((0, 1)),
                          np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean(),
                          spectrum[far].sum() / max(spectrum.sum(), 1e-6), grey.std() / max(grey.mean(), 1e-6),
                          np.percentile(grey, 95) - np.percentile(grey, 5)])
    return np.asarray(rows)


def small_cnn() -> nn.Module:
    """A single-frame classifier: four conv blocks, global pooling, one logit."""
    layers, cin = [], 3
    for cout in (16, 32, 48, 64):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1))


def train_cnn(crops: np.ndarray, live: np.ndarray, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)
    y = torch.from_numpy(live.astype(np.float32))
    weight = (~live).sum() / max(live.sum(), 1)  # balance the classes
    for _ in tqdm(range(epochs), desc="single-frame CNN", unit="epoch"):
        for idx in torch.randperm(len(x)).split(32):
            batch = x[idx]
            if torch.rand(()) < 0.5:
                batch = batch.flip(-1)
            loss = nn.functional.binary_cross_entropy_with_logits(
                model(batch)[:, 0], y[idx], pos_weight=torch.tensor(float(weight)))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def cnn_scores(model: nn.Module, crops: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)
    return torch.cat([model(b)[:, 0] for b in x.split(128)]).numpy()


def aucs(scores: np.ndarray, live: np.ndarray, groups: list[str]) -> dict[str, float]:
    """AUC of live against each attack group (0.5: chance; 1: one frame separates them)."""
    groups = np.asarray(groups)
    out = {}
    for name in sorted(set(groups[~live])):
        keep = live | (groups == name)
        out[name] = float(roc_auc_score(live[keep], scores[keep]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset.csv of `fasstream synth`")
    parser.add_argument("--size", type=int, default=64, help="crop side in pixels (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=8, help="CNN epochs (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", choices=["species", "family"], default="species",
                        help="report AUC per attack species or per attack family (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/probe"))
    args = parser.parse_args()
    records = read_layout_csv(args.data)
    train = frame_crops([r for r in records if r.split == "train"], args.size, args.by)
    test = frame_crops([r for r in records if r.split == "test"], args.size, args.by)
    stats = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    stats.fit(statistics(train[0]), train[1])
    cnn = train_cnn(train[0], train[1], args.epochs, args.seed)
    test_cnn = cnn_scores(cnn, test[0])
    result = {"data": str(args.data), "size": args.size, "by": args.by,
              "train_frames": len(train[1]), "test_frames": len(test[1]),
              "auc_statistics": aucs(stats.decision_function(statistics(test[0])), test[1], test[2]),
              "auc_cnn": aucs(test_cnn, test[1], test[2])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probe.json").write_text(json.dumps(result, indent=2))
    print(f"{args.by:<16} {'AUC statistics':>15} {'AUC CNN':>8}   (live vs {args.by}, test split, one frame)")
    for name in result["auc_cnn"]:
        print(f"{name:<16} {result['auc_statistics'][name]:>15.3f} {result['auc_cnn'][name]:>8.3f}")

    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    groups = np.asarray(test[2])
    for name in ["live", *result["auc_cnn"]]:
        ax.hist(test_cnn[groups == name], bins=30, histtype="step", density=True, label=name)
    ax.set(title="single-frame CNN scores on test frames (high = live)", xlabel="logit", ylabel="density")
    ax.legend()
    fig.savefig(args.out / "probe.png", dpi=100)
    print(f"wrote {args.out / 'probe.json'} and {args.out / 'probe.png'}")


if __name__ == "__main__":
    main()
