"""Type aliases shared by the layers: norms and activations are passed as factories, never as strings."""

from collections.abc import Callable

from torch import nn

NormFactory = Callable[[int], nn.Module]
"""Builds a normalisation layer for a given number of channels, e.g. ``nn.BatchNorm2d``."""

ActFactory = Callable[[], nn.Module]
"""Builds an activation, e.g. ``nn.Hardswish``."""
