"""Video input/output, dataset records and readers (generic CSV layout, OULU-NPU), and the
synthetic live/attack generator. Import the submodules; this package imports nothing heavy.
"""
