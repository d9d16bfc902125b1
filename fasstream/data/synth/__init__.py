"""The synthetic generator's parts; ``fasstream.data.synthetic`` assembles them into a dataset.

``scene``: identities (a source face, augmented) and backgrounds. ``motion``: how a face moves
(head-weighted affine, 3-D head turn with in-face parallax, blinks, mouth, brows). ``camera``: the
capture chain every species shares (exposure, white balance, light, blur, sensor noise, framing,
resolution, compression). ``live``, ``prints``, ``replays``, ``animated``, ``temporal``: the
species, each with its families (independent physical models). ``families``: the registry.
"""
