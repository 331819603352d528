"""Building blocks of EfficientViT: convolutions, ReLU linear attention and the blocks that combine them."""

from efficientvit.layers.attention import LiteMLA
from efficientvit.layers.blocks import EfficientViTBlock, OpSequential, ResidualBlock, UpSample
from efficientvit.layers.conv import ConvNormAct, DSConv, FusedMBConv, MBConv, ResBlock
from efficientvit.layers.linear import LinearNormAct
from efficientvit.layers.norm import LayerNorm2d

__all__ = [
    "ConvNormAct",
    "DSConv",
    "EfficientViTBlock",
    "FusedMBConv",
    "LayerNorm2d",
    "LinearNormAct",
    "LiteMLA",
    "MBConv",
    "OpSequential",
    "ResBlock",
    "ResidualBlock",
    "UpSample",
]
