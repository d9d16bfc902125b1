"""The registry of synthetic families: every family is one physical model of one species."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fasstream.data.synth import animated, prints, replays, temporal
from fasstream.data.synth.live import render_live, render_live_calm
from fasstream.data.synth.mesh import render_live_mesh
from fasstream.data.synth.spline import render_live_spline


@dataclass(frozen=True)
class Family:
    """A family's species and its renderer ``(identity, rng, n, fps) -> (scene frames, landmarks)``.

    ``default``: rendered unless a dataset names its families; otherwise only when named. ``held_out``: a
    physical model kept apart to measure generalisation beyond the others, never trained on (training
    refuses its videos) and never a default. ``from_live``: made from a live recording, which ``render``
    takes as ``live=`` (another live family's renderer; ``render_live`` unless a dataset names its live
    sources).
    """

    species: str
    render: Callable
    default: bool = True
    held_out: bool = False
    from_live: bool = False


FAMILIES: dict[str, Family] = {
    "live": Family("live", render_live),
    "print-flat": Family("print", prints.render_print_flat),
    "print-curved": Family("print", prints.render_print_curved),
    "replay-lcd": Family("replay", replays.render_replay_lcd, from_live=True),
    "replay-phone": Family("replay", replays.render_replay_phone, from_live=True),
    "animated-warp": Family("animated", animated.render_animated_warp),
    "animated-puppet": Family("animated", animated.render_animated_puppet),
    "still-print": Family("still", temporal.render_still_print, from_live=True),
    "still-pause": Family("still", temporal.render_still_pause, from_live=True),
    "rigid-plane": Family("rigid", temporal.render_rigid_plane, from_live=True),
    "rigid-layers": Family("rigid", temporal.render_rigid_layers, from_live=True),
    "live-mesh": Family("live", render_live_mesh, default=False, held_out=True),
    "live-calm": Family("live", render_live_calm, default=False),
    "live-spline": Family("live", render_live_spline, default=False),
    "rigid-head": Family("rigid", temporal.render_rigid_head, default=False, from_live=True),
}

DEFAULT_FAMILIES = tuple(name for name, family in FAMILIES.items() if family.default and not family.held_out)
"""What a dataset renders unless told otherwise: every family but the held-out and opt-in ones."""

HELD_OUT_FAMILIES = tuple(name for name, family in FAMILIES.items() if family.held_out)
"""Families that test, never train (``Family.held_out``)."""

SPECIES = tuple(dict.fromkeys(f.species for f in FAMILIES.values()))
"""live, print, replay, animated, still, rigid."""


def check_live_sources(names, splits=None) -> tuple[str, ...]:
    """Validated live sources of a dataset (live families its replay, still and rigid attacks are made of).

    A held-out family is a source only for a test-only dataset (``splits`` exactly test), so that its frames
    never reach training; raises ValueError naming the choices and the fix.
    """
    names = tuple(dict.fromkeys(names))
    live = [name for name, family in FAMILIES.items() if family.species == "live"]
    wrong = [name for name in names if name not in live]
    if not names or wrong:
        raise ValueError(f"live sources must be live families ({', '.join(live)}), got {', '.join(names) or 'none'}")
    held = [name for name in names if FAMILIES[name].held_out]
    if held and set(splits or ()) != {"test"}:
        raise ValueError(f"{', '.join(held)} is held out: it is a live source only of a test-only dataset "
                         f"(add --splits test), never of training data")
    return names


def resolve(name: str) -> str:
    """A family name, or a species name standing for its first family; raises ValueError naming the choices."""
    if name in FAMILIES:
        return name
    for family, spec in FAMILIES.items():
        if spec.species == name:
            return family
    raise ValueError(f"unknown family or species {name!r}; families: {', '.join(FAMILIES)}; "
                     f"species: {', '.join(SPECIES)}")
