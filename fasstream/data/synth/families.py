"""The registry of synthetic families: every family is one physical model of one species."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fasstream.data.synth import animated, prints, replays, temporal
from fasstream.data.synth.live import render_live
from fasstream.data.synth.mesh import render_live_mesh


@dataclass(frozen=True)
class Family:
    """A family's species and its renderer ``(identity, rng, n, fps) -> (scene frames, landmarks)``.

    ``held_out``: rendered only when asked for by name, never by default nor for training: a physical
    model kept apart to measure generalisation beyond the others.
    """

    species: str
    render: Callable
    held_out: bool = False


FAMILIES: dict[str, Family] = {
    "live": Family("live", render_live),
    "print-flat": Family("print", prints.render_print_flat),
    "print-curved": Family("print", prints.render_print_curved),
    "replay-lcd": Family("replay", replays.render_replay_lcd),
    "replay-phone": Family("replay", replays.render_replay_phone),
    "animated-warp": Family("animated", animated.render_animated_warp),
    "animated-puppet": Family("animated", animated.render_animated_puppet),
    "still-print": Family("still", temporal.render_still_print),
    "still-pause": Family("still", temporal.render_still_pause),
    "rigid-plane": Family("rigid", temporal.render_rigid_plane),
    "rigid-layers": Family("rigid", temporal.render_rigid_layers),
    "live-mesh": Family("live", render_live_mesh, held_out=True),
}

DEFAULT_FAMILIES = tuple(name for name, family in FAMILIES.items() if not family.held_out)
"""What a dataset renders unless told otherwise: every family but the held-out ones."""

SPECIES = tuple(dict.fromkeys(f.species for f in FAMILIES.values()))
"""live, print, replay, animated, still, rigid."""


def resolve(name: str) -> str:
    """A family name, or a species name standing for its first family; raises ValueError naming the choices."""
    if name in FAMILIES:
        return name
    for family, spec in FAMILIES.items():
        if spec.species == name:
            return family
    raise ValueError(f"unknown family or species {name!r}; families: {', '.join(FAMILIES)}; "
                     f"species: {', '.join(SPECIES)}")
