"""rmm-alerts core: the domain pipeline shared by every Lambda (shipped as the `core` layer)."""

__version__ = "0.1.0"
