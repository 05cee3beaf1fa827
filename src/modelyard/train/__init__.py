"""Training: specs, fit, evaluation, cross-validation, tuning."""

from ._train import train as train

__all__ = ["train"]
