"""Training: recipes (``config``), the Ranger optimizer, in-memory clip sets (``dataset``) and the loop.

``fasstream train RECIPE.yaml`` runs :func:`fasstream.train.loop.train`; recipes live in pipelines/train/.
"""
from fasstream.train.config import ConfigError, TrainConfig, load_config
from fasstream.train.ranger import Ranger

__all__ = ["ConfigError", "Ranger", "TrainConfig", "load_config"]
