"""The ``mantis`` command line and its renderers: options in, one library call, text out."""

from .main import main

__all__ = ["main"]
