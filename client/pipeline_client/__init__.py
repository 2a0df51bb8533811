"""Command-line client for PIPELINE: browse your models and download them resumably."""

__version__ = "0.1.0"
