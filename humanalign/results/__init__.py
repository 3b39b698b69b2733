"""Tools over results stores (``python -m humanalign.results SUBCOMMAND``): merging shards, exporting.

The store itself lives in :mod:`humanalign.io.results`; it is re-exported here.
"""

from humanalign.io.results import ResultsStore

__all__ = ["ResultsStore"]
