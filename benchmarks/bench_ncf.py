"""NCF benchmarks (issue 12): ratings, the paper's leave-one-out protocol, epoch speed.

Usage::

    python benchmarks/bench_ncf.py ratings   # NCFRegressor() on ML-100K / ML-1M, 90/10
    python benchmarks/bench_ncf.py loo       # HR@10 / NDCG@10 among 99 negatives
    python benchmarks/bench_ncf.py speed     # an epoch against a plain PyTorch NCF

Data from ``../shared/data``.  Results go to ``benchmarks/results/ncf.json``
(merged) and are printed; ``docs/ncf.md`` quotes them.

* ratings: the split of ``bench_defaults.py`` (``default_rng(0)`` permutation,
  the first 90% train), test RMSE, default parameters, ``random_state=0``.
* loo: ``leave_one_out_split`` by the latest timestamp with 99 negatives
  (``random_state=0``), never the user's own items; each model's settings
  chosen on a second leave-one-out split of the training part (validation),
  then refitted on the training part; ML-100K and latest-small (the ML-1M
  with timestamps of the paper is not available here).
* speed: one epoch of NeuMF with 4 negatives per positive on the ML-1M
  positives (ratings as implicit interactions, as in the paper), batch 256,
  against a plain PyTorch NCF with the official code's structure (instances
  sampled in a Python loop, one batch at a time), in one process, 1 thread.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
OUT = HERE / "results" / "ncf.json"


def save(key, record):
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[key] = record
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    print(key, json.dumps(record), flush=True)


def load(name):
    from sklearn_autorec.datasets import load_movielens, load_ratings_file

    if name == "ml-latest-small":
        return load_movielens("ml-latest-small")
    return load_ratings_file(DATA / {"ml-100k": "ml-100k/u.data",
                                     "ml-1m": "ml-1m/ratings.csv.gz"}[name])


def ratings(datasets=("ml-100k", "ml-1m")):
    from sklearn_autorec import BiasedMFRegressor, NCFRegressor

    for name in datasets:
        d = load(name)
        perm = np.random.default_rng(0).permutation(len(d.y))
        n = int(0.9 * len(d.y))
        tr, te = perm[:n], perm[n:]
        for label, make in [
            ("NCFRegressor()", lambda: NCFRegressor(random_state=0)),
            ("NCFRegressor('gmf')", lambda: NCFRegressor("gmf", random_state=0)),
            ("NCFRegressor('mlp')", lambda: NCFRegressor("mlp", random_state=0)),
            ("BiasedMFRegressor()", lambda: BiasedMFRegressor(random_state=0)),
        ]:
            start = time.perf_counter()
            model = make().fit(d.X[tr], d.y[tr])
            seconds = time.perf_counter() - start
            rmse = float(np.sqrt(np.mean((model.predict(d.X[te]) - d.y[te]) ** 2)))
            save(f"ratings | {name} | {label}",
                 {"rmse": rmse, "fit_seconds": seconds, "threads": torch.get_num_threads(),
                  "n_iter": getattr(model, "n_iter_", None)})


# ----------------------------------------------------------------------- loo
def implicit_with_times(name):
    """All ratings as interactions (weight 1) and their timestamps, same pattern."""
    import scipy.sparse as sp

    d = load(name)
    rows = np.searchsorted(d.user_ids, d.X[:, 0])
    cols = np.searchsorted(d.item_ids, d.X[:, 1])
    shape = (len(d.user_ids), len(d.item_ids))
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
    T = sp.csr_matrix((d.timestamps.astype(np.float64), (rows, cols)), shape=shape)
    return X, T


def restrict(T, X):
    """Timestamps of the stored entries of X (T has a superset pattern)."""
    import scipy.sparse as sp

    coo = X.tocoo()
    return sp.csr_matrix((np.asarray(T[coo.row, coo.col]).ravel(), (coo.row, coo.col)),
                         shape=X.shape)


#: label -> list of candidate settings (chosen on validation HR@10)
LOO_MODELS = {
    "NCFRecommender('gmf')": ("NCFRecommender", [{"model": "gmf", "n_components": k}
                                                 for k in (8, 32)]),
    "NCFRecommender('mlp')": ("NCFRecommender", [{"model": "mlp"}]),
    "NCFRecommender('neumf')": ("NCFRecommender", [{"model": "neumf", "n_components": k}
                                                   for k in (8, 32)]),
    "NCFRecommender('neumf', pretrain=True)": ("NCFRecommender", [
        {"model": "neumf", "pretrain": True}]),
    "ImplicitMFRecommender": ("ImplicitMFRecommender", [
        {"n_components": k, "alpha": a} for k in (32, 64, 128) for a in (3.0, 10.0, 30.0, 100.0)]),
    "EASERecommender": ("EASERecommender", [{}]),
}


def loo(only=None):
    import sklearn_autorec
    from sklearn_autorec.metrics import sampled_ranking_report
    from sklearn_autorec.model_selection import leave_one_out_split, matrix_to_pairs

    for name in ("ml-100k", "ml-latest-small"):
        X, T = implicit_with_times(name)
        train, test, negatives = leave_one_out_split(X, timestamps=T, n_negatives=99,
                                                     random_state=0)
        val_train, val_test, val_neg = leave_one_out_split(
            train, timestamps=restrict(T, train), n_negatives=99, random_state=1)
        for label, (cls_name, candidates) in LOO_MODELS.items():
            if only and label not in only:
                continue
            key = f"loo | {name} | {label}"
            cls = getattr(sklearn_autorec, cls_name)
            best, chosen = -1.0, None
            for params in candidates:
                if len(candidates) == 1:
                    chosen = params
                    break
                model = cls(random_state=0, **params).fit(val_train)
                hr = sampled_ranking_report(model, matrix_to_pairs(val_test)[0], val_neg)
                if hr["hit_rate@10"] > best:
                    best, chosen = hr["hit_rate@10"], params
            start = time.perf_counter()
            model = cls(random_state=0, **chosen).fit(train)
            seconds = time.perf_counter() - start
            report = sampled_ranking_report(model, matrix_to_pairs(test)[0], negatives)
            save(key, {**report, "chosen": chosen, "fit_seconds": seconds,
                       "validation_hr@10": best if len(candidates) > 1 else None,
                       "threads": torch.get_num_threads()})


# --------------------------------------------------------------------- speed
class PlainNeuMF(torch.nn.Module):
    """NeuMF as the official code builds it (embeddings, towers, one output)."""

    def __init__(self, n_users, n_items, k=8, layers=(64, 32, 16, 8)):
        super().__init__()
        self.mf_user = torch.nn.Embedding(n_users, k)
        self.mf_item = torch.nn.Embedding(n_items, k)
        self.mlp_user = torch.nn.Embedding(n_users, layers[0] // 2)
        self.mlp_item = torch.nn.Embedding(n_items, layers[0] // 2)
        self.tower = torch.nn.Sequential(*[
            m for a, b in zip(layers[:-1], layers[1:])
            for m in (torch.nn.Linear(a, b), torch.nn.ReLU())])
        self.out = torch.nn.Linear(k + layers[-1], 1)
        for emb in (self.mf_user, self.mf_item, self.mlp_user, self.mlp_item):
            torch.nn.init.normal_(emb.weight, std=0.01)

    def forward(self, u, i):
        mf = self.mf_user(u) * self.mf_item(i)
        mlp = self.tower(torch.cat([self.mlp_user(u), self.mlp_item(i)], 1))
        return torch.sigmoid(self.out(torch.cat([mf, mlp], 1))).squeeze(1)


def plain_epoch(net, opt, train_set, users, items, n_items, n_negatives, batch_size, rng):
    """The official get_train_instances loop, then one batch at a time."""
    u_in, i_in, labels = [], [], []
    for u, i in zip(users.tolist(), items.tolist()):
        u_in.append(u)
        i_in.append(i)
        labels.append(1.0)
        for _ in range(n_negatives):
            j = int(rng.integers(n_items))
            while (u, j) in train_set:
                j = int(rng.integers(n_items))
            u_in.append(u)
            i_in.append(j)
            labels.append(0.0)
    order = rng.permutation(len(u_in))
    u_t = torch.tensor(u_in)[order]
    i_t = torch.tensor(i_in)[order]
    y_t = torch.tensor(labels)[order]
    loss_fn = torch.nn.BCELoss()
    for s in range(0, len(u_t), batch_size):
        opt.zero_grad()
        loss = loss_fn(net(u_t[s:s + batch_size], i_t[s:s + batch_size]),
                       y_t[s:s + batch_size])
        loss.backward()
        opt.step()


def speed(epochs=1):
    from sklearn_autorec import NCFRecommender

    torch.set_num_threads(1)
    d = load("ml-1m")
    R = d.ratings.tocsr()
    users = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    items = R.indices.astype(np.int64)
    rng = np.random.default_rng(0)
    # ours: fixed epochs, no validation, the estimator's whole fit
    start = time.perf_counter()
    NCFRecommender(max_iter=epochs, early_stopping=False, random_state=0).fit(R)
    ours = (time.perf_counter() - start) / epochs
    net = PlainNeuMF(R.shape[0], R.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    train_set = set(zip(users.tolist(), items.tolist()))
    start = time.perf_counter()
    for _ in range(epochs):
        plain_epoch(net, opt, train_set, users, items, R.shape[1], 4, 256, rng)
    plain = (time.perf_counter() - start) / epochs
    save("speed | ml-1m | neumf epoch, 4 negatives, batch 256, 1 thread",
         {"ours_s": ours, "plain_s": plain, "speedup": plain / ours, "epochs": epochs,
          "n_positives": int(R.nnz)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["ratings", "loo", "speed"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=["ml-100k", "ml-1m"],
                        help="ratings: the data sets")
    parser.add_argument("--only", nargs="*", default=None,
                        help="loo: only these model labels (keys of LOO_MODELS)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    if args.what == "loo":
        loo(args.only)
    elif args.what == "ratings":
        ratings(args.datasets)
    else:
        speed()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
