"""Kizuki (気づき): scenario-based detection of targeted attacks."""

from kizuki.errors import KizukiError

__all__ = ["KizukiError", "__version__"]
__version__ = "0.1.0"
