"""``python -m humanalign.results``: commands on a results store (export; more plug in as modules).

Re-exports :class:`~humanalign.io.results.ResultsStore` so ``from humanalign.results import ResultsStore``
works; nothing heavy is imported here.
"""

from humanalign.io.results import ResultsStore

__all__ = ["ResultsStore"]
