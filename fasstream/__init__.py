"""fasstream: EulerNet face anti-spoofing, from the fused FCAM gate op to a streaming service.

Importing the package is cheap and needs only torch and numpy; subpackages import their other
dependencies where they are used.
"""
__version__ = "0.1.0"
