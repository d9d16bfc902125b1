"""Multiple-instance training of live videos: a live video needs one clip that shows life, an attack none.

A live face that holds still shows nothing in most 4-frame clips (no blink, under a tenth of a pixel of
non-rigid motion): such a clip cannot be told from a held frame, and labelling it live teaches the model
that stillness is life. With ``data.live_bag`` = B > 1, every live clip drawn for a step is replaced by
the most live-looking (by the model's current score, in eval mode, without gradient) of it and B - 1
other clips of its video; attack clips and temporal hard negatives are trained on as drawn. A video's
score is then the max over its clips (``aggregate: max``).
"""
from __future__ import annotations

import torch

from fasstream.model import EulerNet, score

__all__ = ["most_live_instances"]


@torch.no_grad()
def most_live_instances(model: EulerNet, data, clips: torch.Tensor, maps: torch.Tensor, live: torch.Tensor,
                        index: torch.Tensor, bag: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(clips, maps)`` of a batch with each live row replaced by the most live of its bag.

    ``data`` gives ``clips_of(i)`` and ``item(i, temporal=False)`` (``ClipDataset``); ``index`` holds the
    batch's dataset indices. Rows whose video has one clip stay as they are."""
    if bag <= 1:
        return clips, maps
    rows = [r for r in live.nonzero()[:, 0].tolist() if len(data.clips_of(int(index[r]))) > 1]
    if not rows:
        return clips, maps
    bags, members = [], []  # every row's candidates, the drawn clip first
    for r in rows:
        i = int(index[r])
        others = [j for j in data.clips_of(i) if j != i]
        picks = [others[k] for k in torch.randperm(len(others))[:bag - 1].tolist()]
        members.append([(clips[r], maps[r])] + [data.item(j, temporal=False)[:2] for j in picks])
        bags.append(len(members[-1]))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        scores = score(model(torch.stack([c for m in members for c, _ in m]).to(device))).float().cpu()
    finally:
        model.train(was_training)
    clips, maps = clips.clone(), maps.clone()
    for r, m, s in zip(rows, members, scores.split(bags)):
        clips[r], maps[r] = m[int(s.argmax())]
    return clips, maps
