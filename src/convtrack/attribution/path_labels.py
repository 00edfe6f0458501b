"""The labels of aggregated paths as arrays, and per-path shares from per-label weights.

Shared by the data-driven models (``markov``, ``shapley``): they turn a ``PathSet`` into
flat numpy arrays once, and most of them end with "each distinct label of a path gets a
share in proportion to its weight".
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from scipy import sparse

from convtrack.attribution.model import PathSet


def flatten(paths: PathSet) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, labels)``: each path's length and all paths' labels end to end (int64)."""
    lengths = np.fromiter(map(len, paths.paths), dtype=np.int64, count=len(paths.paths))
    flat = np.fromiter(chain.from_iterable(paths.paths), dtype=np.int64, count=int(lengths.sum()))
    return lengths, flat


def distinct_labels(paths: PathSet) -> sparse.csr_matrix:
    """``n_paths × n_labels``, 1.0 where the label occurs in the path (once, however often)."""
    lengths, flat = flatten(paths)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    shape = (len(paths.paths), len(paths.labels))
    member = sparse.csr_matrix((np.ones(len(flat)), (rows, flat)), shape=shape)
    member.sum_duplicates()
    member.data[:] = 1.0
    return member


def shares_from_weights(paths: PathSet, weights: np.ndarray) -> sparse.csr_matrix:
    """Each path's distinct labels share 1 in proportion to ``weights[label]`` (>= 0); a path
    whose labels all weigh 0 shares equally among them."""
    member = distinct_labels(paths)
    return normalise_rows(member, weights[member.indices])


def normalise_rows(member: sparse.csr_matrix, values: np.ndarray) -> sparse.csr_matrix:
    """``member``'s pattern with ``values`` (one per stored entry, >= 0), each row scaled to
    sum to 1; rows whose values sum to 0 get equal shares over their entries."""
    rows = np.repeat(np.arange(member.shape[0]), np.diff(member.indptr))
    sums = np.bincount(rows, weights=values, minlength=member.shape[0])
    counts = np.diff(member.indptr).astype(np.float64)
    zero = sums[rows] <= 0
    data = np.where(
        zero, 1.0 / np.maximum(counts[rows], 1.0), values / np.where(zero, 1.0, sums[rows])
    )
    return sparse.csr_matrix(
        (data, member.indices.copy(), member.indptr.copy()), shape=member.shape
    )
