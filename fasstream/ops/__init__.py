"""The FCAM gate op and the DIIRF filter (compiled kernels), and their pure-PyTorch reference."""
from fasstream.ops import reference
from fasstream.ops.diirf import diirf, diirf_gate

__all__ = ["diirf", "diirf_gate", "reference"]
