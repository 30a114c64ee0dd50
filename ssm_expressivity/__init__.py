"""ssm_expressivity: the expressive capacity of state space models, made executable."""

__version__ = "0.1.0"
