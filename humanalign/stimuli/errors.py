"""The stimulus-set error type, in its own module so that image reading and the container share it."""

from __future__ import annotations

__all__ = ["StimulusSetError"]


class StimulusSetError(ValueError):
    """A stimulus set is malformed, missing, or does not match another one; or a stimulus file is unusable."""
