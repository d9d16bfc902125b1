"""EulerNet: the face anti-spoofing network and its parts (FCAM, Residual Pyramid, CDC backbone)."""
from fasstream.model.backbone import CDConv2d
from fasstream.model.eulernet import FRAMES, WIDTHS, EulerNet, score
from fasstream.model.fcam import FCAM
from fasstream.model.pyramid import LevelConcat, ResidualPyramid

__all__ = ["CDConv2d", "EulerNet", "FCAM", "FRAMES", "LevelConcat", "ResidualPyramid", "WIDTHS", "score"]
