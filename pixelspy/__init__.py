"""pixelspy: a pixel debugging proxy."""

__version__ = "0.1.0"
