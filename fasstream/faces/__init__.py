"""Faces: found and cropped here, and nowhere else, for training, evaluation, explanation and serving.

``geometry`` (crop boxes and resampling), ``landmarks`` (68-point backends for labelling),
``detectors`` (face detectors behind one interface), ``calibration`` (detector output -> the
training crop), ``tracking`` (per-session tracks, batched across sessions) and ``stage`` (a
configured tracker from ``pipelines/faces/<detector>.json``).
"""
