"""``train(cfg)``: fit EulerNet to label maps with Ranger and an L2 loss, scoring the dev split every epoch.

Runs in one process, or in one process per device under ``torchrun`` (WORLD_SIZE > 1: DDP, nccl
on CUDA, gloo on CPU; ``batch_size`` is split over the processes). Rank 0 scores dev and writes
``cfg.out_dir``: ``log.jsonl`` (one JSON object per line), ``last.pt`` and ``best.pt`` (lowest dev
ACER, ties to the later epoch; docs/CONTRACTS.md checkpoint plus optimizer, epoch and RNG states
for resuming), ``curves.png`` and, with ``swa_from``, ``swa.pt``: the mean of the weights at the end of
every epoch from ``swa_from`` on, its BatchNorm statistics recomputed on the train clips, scored on dev.
Dev: clip score = mean predicted map, video score = its clips' by ``aggregate`` (mean or max), the threshold
at the dev EER, and APCER (worst species), BPCER, ACER at that threshold.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, update_bn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

import fasstream
from fasstream.eval.metrics import ScoreSet, apcer_bpcer, eer, eer_threshold, video_level
from fasstream.model import EulerNet, score
from fasstream.train.config import TrainConfig
from fasstream.train.instances import most_live_instances
from fasstream.train.ranger import Ranger
from fasstream.train.sampling import BalancedSampler

__all__ = ["evaluate_dev", "lr_at", "train"]

log = logging.getLogger(__name__)


def _setup(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when launched by torchrun."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda but no CUDA device is visible. Fix: --set device=cpu (or auto).")
    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return rank, world, device


def _check_data(train_set: Dataset, dev_set: Dataset) -> None:
    if len(train_set) == 0:
        why = "; ".join(f"{v}: {r}" for v, r in getattr(train_set, "skipped", [])[:3])
        raise ValueError(f"the train split has no usable clip ({why or 'no train videos'}). "
                         "Fix: check data.path and the split column / protocol.")
    if all(dev_set.live) or not any(dev_set.live):
        raise ValueError(f"the dev split ({len(dev_set)} clips) needs live and attack videos to pick the EER "
                         "threshold. Fix: add both to the dev split.")


def _autocast(cfg: TrainConfig, device: torch.device):
    on = cfg.bf16 == "always" or (cfg.bf16 == "cuda" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)


@torch.no_grad()
def evaluate_dev(model: EulerNet, dev_set: Dataset, cfg: TrainConfig, device: torch.device) -> dict:
    """Video-level dev metrics at the dev EER threshold: acer, apcer (worst species), bpcer, eer, threshold."""
    model.eval()
    clip_scores = []
    for clips, *_ in DataLoader(dev_set, batch_size=cfg.batch_size):
        with _autocast(cfg, device):
            clip_scores.append(score(model(clips.to(device))).float().cpu())
    model.train()
    videos = video_level(ScoreSet(torch.cat(clip_scores).numpy(), np.asarray(dev_set.live),
                                  np.asarray(dev_set.species, dtype=object), np.asarray(dev_set.video_ids)),
                         cfg.aggregate)
    threshold = eer_threshold(videos.scores, videos.live)
    rates = apcer_bpcer(videos.scores, videos.live, videos.species, threshold)
    return {"acer": rates.acer, "apcer": rates.apcer_worst, "bpcer": rates.bpcer,
            "eer": eer(videos.scores, videos.live), "threshold": threshold, "videos": len(videos)}


def lr_at(cfg: TrainConfig, step: int, steps: int) -> float:
    """The learning rate of 0-based ``step`` of ``steps``: ``cfg.lr``, or its cosine decay to ``lr * lr_floor``."""
    if cfg.lr_schedule == "constant" or steps <= 1:
        return cfg.lr
    floor = cfg.lr * cfg.lr_floor
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * step / (steps - 1)))


def _checkpoint(model: EulerNet, cfg: TrainConfig, metrics: dict, epoch: int) -> dict:
    """The checkpoint of ``model`` (docs/CONTRACTS.md): weights, config with the crop, dev threshold and metrics, and
    what a bit-exact retraining also needs (torch version, CPU threads: float sums round differently with them)."""
    config = {**model.config, "label": cfg.label, "crop_scale": cfg.data.crop_scale, "stabilise": cfg.data.stabilise,
              "resample": cfg.data.resample, "aggregate": cfg.aggregate, "recipe": cfg.to_dict()}
    return {"model": model.state_dict(), "config": config, "threshold": metrics["threshold"], "metrics": metrics,
            "version": fasstream.__version__, "epoch": epoch,
            "trained_with": {"torch": str(torch.__version__), "threads": torch.get_num_threads()}}


def _rng_state(world: int) -> list[dict]:
    """Every rank's RNG states (a collective under DDP)."""
    state = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None}
    if world == 1:
        return [state]
    states: list = [None] * world
    dist.all_gather_object(states, state)
    return states


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _log_line(path: Path, record: dict) -> None:
    line = json.dumps(record)
    log.log(logging.INFO if record["event"] == "epoch" else logging.DEBUG, line)
    with path.open("a") as fh:
        fh.write(line + "\n")


def _plot(history: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    loss_ax, dev_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [h["loss"] for h in history], marker="o")
    loss_ax.set(title="train L2 loss", xlabel="epoch")
    for key in ("acer", "eer"):
        dev_ax.plot(epochs, [100 * h["dev"][key] for h in history], marker="o", label=f"dev {key.upper()}")
    dev_ax.set(title="dev error (%)", xlabel="epoch")
    dev_ax.legend()
    for ax in (loss_ax, dev_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.savefig(path, dpi=100)


def _resume(out: Path, model: EulerNet, opt: Ranger, rank: int, world: int,
            swa: AveragedModel | None = None) -> tuple[int, list[dict], float]:
    """Load out/last.pt into model, optimizer and ``swa`` (the weight average, if averaging); returns (epochs
    done, history, best dev ACER)."""
    path = out / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {path}. Fix: drop --resume to start afresh, "
                                "or point name/out at the run to continue.")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    if swa is not None:
        if "swa" not in ckpt:
            raise ValueError(f"--resume with swa_from: {path} was trained without weight averaging. Fix: resume "
                             "it without swa_from, or start a new run (--set name=...).")
        swa.load_state_dict(ckpt["swa"])
    if len(ckpt["rng"]) == world:
        torch.set_rng_state(ckpt["rng"][rank]["cpu"])
        if ckpt["rng"][rank]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(ckpt["rng"][rank]["cuda"])
    else:
        log.warning("resuming on %d processes a run saved on %d: random streams restart", world, len(ckpt["rng"]))
    if rank == 0:  # drop log lines of an epoch that was cut short
        logfile = out / "log.jsonl"
        lines = logfile.read_text().splitlines() if logfile.is_file() else []
        logfile.write_text("".join(f"{x}\n" for x in lines if json.loads(x)["epoch"] <= ckpt["epoch"]))
    log.info("resumed %s at epoch %d", path, ckpt["epoch"])
    return ckpt["epoch"], ckpt["history"], ckpt["best_acer"]


def train(cfg: TrainConfig, data: tuple[Dataset, Dataset] | None = None,
          resume: bool = False) -> tuple[EulerNet, list[dict]]:
    """Train per ``cfg``; returns the model and the per-epoch history (with dev metrics on rank 0).

    ``data`` is (train, dev), default ``build_datasets(cfg)``; items are ``(clip, maps, live, index)``
    and dev also needs per-clip ``live``, ``species`` and ``video_ids``.
    """
    rank, world, device = _setup(cfg)
    try:
        if cfg.batch_size % world:
            raise ValueError(f"batch_size={cfg.batch_size} does not split over {world} processes. "
                             f"Fix: --set batch_size={cfg.batch_size - cfg.batch_size % world or world}.")
        out = cfg.out_dir
        if not resume and (out / "last.pt").exists():
            raise FileExistsError(f"{out} already holds a run. Fix: add --resume to continue it, "
                                  "or --set name=... for a new one.")
        torch.manual_seed(cfg.seed + rank)
        if data is None:
            from fasstream.train.dataset import build_datasets
            data = build_datasets(cfg)
        train_set, dev_set = data
        _check_data(train_set, dev_set)
        model = EulerNet.from_config(vars(cfg.model)).to(device)
        opt = Ranger(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        swa = AveragedModel(model) if cfg.swa_from else None
        start, history, best = _resume(out, model, opt, rank, world, swa) if resume else (0, [], math.inf)
        net = DistributedDataParallel(model) if world > 1 else model
        sampler = (BalancedSampler(train_set.live, world, rank, cfg.seed) if cfg.data.balance else
                   DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed))
        loader = DataLoader(train_set, batch_size=cfg.batch_size // world, sampler=sampler,
                            num_workers=cfg.data.workers, pin_memory=device.type == "cuda")
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            if not resume:
                (out / "log.jsonl").write_text("")
            log.info("training %s: %d train clips, %d dev clips, %d process(es), %s, out %s",
                     cfg.name, len(train_set), len(dev_set), world, device, out)
        for epoch in range(start + 1, cfg.epochs + 1):
            sampler.set_epoch(epoch)
            tic, total = time.perf_counter(), torch.zeros(2, dtype=torch.float64, device=device)
            bar = tqdm(loader, desc=f"{cfg.name} epoch {epoch}/{cfg.epochs}", disable=rank != 0, leave=False)
            for i, (clips, maps, live, index) in enumerate(bar):
                step = (epoch - 1) * len(loader) + i + 1
                if cfg.data.live_bag > 1:
                    clips, maps = most_live_instances(model, train_set, clips, maps, live, index, cfg.data.live_bag)
                for group in opt.param_groups:
                    group["lr"] = lr_at(cfg, step - 1, cfg.epochs * len(loader))
                with _autocast(cfg, device):
                    pred = net(clips.to(device, non_blocking=True))
                loss = F.mse_loss(pred.float(), maps[:, -pred.shape[1]:].to(device, non_blocking=True))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                total[0] += loss.detach() * len(clips)
                total[1] += len(clips)
                if rank == 0 and step % cfg.log_every == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}")
                    _log_line(out / "log.jsonl", {"event": "step", "epoch": epoch, "step": step, "loss": loss.item(),
                                                  "lr": opt.param_groups[0]["lr"]})
            if world > 1:  # DDP syncs gradients; BatchNorm statistics are made rank 0's here
                dist.all_reduce(total)
                for buffer in model.buffers():
                    dist.broadcast(buffer, 0)
            if swa is not None and epoch >= cfg.swa_from:
                swa.update_parameters(model)
            metrics = evaluate_dev(model, dev_set, cfg, device) if rank == 0 else {}
            rng = _rng_state(world)  # after dev scoring, which draws a DataLoader seed
            if rank == 0:
                record = {"event": "epoch", "epoch": epoch, "loss": (total[0] / total[1]).item(), "dev": metrics,
                          "best": metrics["acer"] <= best, "seconds": round(time.perf_counter() - tic, 3)}
                best = min(best, metrics["acer"])
                history.append(record)
                _log_line(out / "log.jsonl", record)
                ckpt = {**_checkpoint(model, cfg, metrics, epoch), "optimizer": opt.state_dict(), "rng": rng,
                        "history": history, "best_acer": best}
                if swa is not None:
                    ckpt["swa"] = swa.state_dict()
                _save(ckpt, out / "last.pt")
                if record["best"]:
                    _save(ckpt, out / "best.pt")
                _plot(history, out / "curves.png")
            if world > 1:
                dist.barrier()
        if swa is not None and rank == 0 and swa.n_averaged > 0:
            update_bn(loader, swa, device)  # the mean weights' own BatchNorm statistics, from train clips
            metrics = evaluate_dev(swa.module, dev_set, cfg, device)
            _log_line(out / "log.jsonl", {"event": "swa", "epoch": cfg.epochs, "from": cfg.swa_from,
                                          "averaged": int(swa.n_averaged), "dev": metrics})
            _save(_checkpoint(swa.module, cfg, metrics, cfg.epochs), out / "swa.pt")
        return model, history
    finally:
        if world > 1:
            dist.destroy_process_group()
