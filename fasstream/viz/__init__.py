"""Pictures of what EulerNet sees: Eulerian video magnification and Grad-CAM of the model.

``filters``: band-pass coefficients for the DIIRF op. ``evm``: magnification of frames.
``gradcam``: Grad-CAM and predicted maps of a clip. ``faces``: the face of a video file.
``figures``: PNG + JSON output. The ``cmd_*`` modules are the ``fasstream magnify`` and
``fasstream explain`` subcommands.
"""
