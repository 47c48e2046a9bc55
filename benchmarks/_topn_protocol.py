"""The top-N protocol of issue 11 on ML-1M, shared by the top-N benchmarks.

ML-1M ratings from ``../shared/data/ml-1m/ratings.csv.gz``; positives are the
ratings >= 4; users with at least 5 positives; each user's positives are split
80/20 at random with ``numpy.random.default_rng(0)`` (the user's items in a
random order, the first ``int(0.2 * n)`` go to test); test items without a
training positive are dropped.  The validation split (to choose
hyper-parameters) splits each user's *training* positives 80/20 the same way
with ``default_rng(1)``.
"""

import os

import numpy as np
import scipy.sparse as sp

from sklearn_autorec.datasets import load_ratings_file

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ml-1m",
                    "ratings.csv.gz")


def split_users(csr, test_fraction, seed):
    """Per user, ``int(test_fraction * n)`` random items to test (rng order)."""
    rng = np.random.default_rng(seed)
    train_rows, train_cols, test_rows, test_cols = [], [], [], []
    for u in range(csr.shape[0]):
        items = csr.indices[csr.indptr[u]:csr.indptr[u + 1]]
        items = items[rng.permutation(len(items))]
        n_test = int(test_fraction * len(items))
        test_rows.append(np.full(n_test, u))
        test_cols.append(items[:n_test])
        train_rows.append(np.full(len(items) - n_test, u))
        train_cols.append(items[n_test:])

    def build(rows, cols):
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=csr.shape)
        m.sort_indices()
        return m

    return build(train_rows, train_cols), build(test_rows, test_cols)


def drop_untrained_items(train, test):
    """Test entries whose item has no training entry are removed (counted)."""
    trained = np.asarray(train.sum(axis=0)).ravel() > 0
    test = test.tocoo()
    keep = trained[test.col]
    out = sp.csr_matrix((test.data[keep], (test.row[keep], test.col[keep])),
                        shape=test.shape)
    return out, int((~keep).sum())


def load_protocol(path=DATA):
    """Return a dict: train, test (the evaluation split), val_train, val_test."""
    data = load_ratings_file(path)
    R = data.ratings
    pos = R.multiply(R >= 4).tocsr()
    pos.eliminate_zeros()
    pos.data[:] = 1.0
    keep_users = np.flatnonzero(np.diff(pos.indptr) >= 5)
    pos = pos[keep_users]
    keep_items = np.flatnonzero(np.asarray(pos.sum(axis=0)).ravel() > 0)
    pos = pos[:, keep_items].tocsr()
    pos.sort_indices()
    train, test = split_users(pos, 0.2, 0)
    test, n_dropped = drop_untrained_items(train, test)
    val_train, val_test = split_users(train, 0.2, 1)
    val_test, _ = drop_untrained_items(val_train, val_test)
    return {"train": train, "test": test, "val_train": val_train, "val_test": val_test,
            "n_dropped": n_dropped, "user_ids": data.user_ids[keep_users],
            "item_ids": data.item_ids[keep_items]}


if __name__ == "__main__":
    p = load_protocol()
    tr, te = p["train"], p["test"]
    print("users", tr.shape[0], "items", tr.shape[1], "train", tr.nnz, "test", te.nnz,
          "users with test", int((np.diff(te.indptr) > 0).sum()), "dropped", p["n_dropped"])
