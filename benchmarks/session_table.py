"""Session-based recommendation table (issue 13): every model with defaults, one command.

Data (``../shared/data``, research use only, never copied here):

* ``rsc15-100k``: the YooChoose sample of the session-rec framework, train_full
  / test (the sessions of the last day, test items unseen in training removed);
* ``diginetica``: the standard SR-GNN preprocessing, train / test.

Protocol: next-item prediction at every position of every test session
(``sklearn_autorec.metrics.session_report``), Recall@20 and MRR@20 over all
items, ties counted against the target.  Models with default parameters
(``random_state=0``), fitted on the training sessions.

Usage::

    python benchmarks/session_table.py                      # all rows
    python benchmarks/session_table.py --rows ItemTransition --data diginetica
    python benchmarks/session_table.py --rows NARM --data diginetica --verbose
    python benchmarks/session_table.py --rows NARM --data diginetica --threads 2

Writes ``benchmarks/results/sessions.json`` (merged) and ``docs/sessions_results.md``.
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
JSON = HERE / "results" / "sessions.json"
PAGE = HERE.parent / "docs" / "sessions_results.md"

ROWS = {
    "SessionPopularity": ("SessionPopularityRecommender", {}),
    "ItemTransition": ("ItemTransitionRecommender", {}),
    "GRU4Rec": ("GRU4RecRecommender", {"random_state": 0}),
    "NARM": ("NARMRecommender", {"random_state": 0}),
}
DATASETS = ("rsc15-100k", "diginetica")

#: peers measured on the same data and protocol (issue 13)
PEERS = {
    "rsc15-100k": [("last-item transitions (the issue's evaluator)", 0.591, 0.344),
                   ("official GRU4Rec, defaults", 0.6716, 0.3578),
                   ("official GRU4Rec, RSC15 cross-entropy paramfile, 10 epochs",
                    0.6774, 0.3558)],
    "diginetica": [("popularity / last-item transitions (the issue's evaluator)",
                    "0.009 / 0.348", "0.002 / 0.130"),
                   ("official GRU4Rec, defaults, 5 epochs", 0.5034, 0.1653),
                   ("official GRU4Rec, cross-entropy (192, batch 128, n_sample 2048), "
                    "5 epochs", 0.5300, 0.1810),
                   ("NARM, published with sorted clicks", 0.4970, 0.1617)],
}


def load(name):
    """(train, test) clicks as DataFrames."""
    if name == "rsc15-100k":
        def read(part):
            df = pd.read_csv(DATA / name / f"yoochoose-clicks-100k_{part}.txt", sep="\t")
            return df.rename(columns={"SessionId": "session_id", "ItemId": "item_id",
                                      "Time": "timestamp"})
        return read("train_full"), read("test")
    return (pd.read_csv(DATA / name / "train.csv.gz"),
            pd.read_csv(DATA / name / "test.csv.gz"))


def run_row(row, data):
    import torch

    import sklearn_autorec
    from sklearn_autorec.metrics import session_report

    cls_name, kwargs = ROWS[row]
    train, test = load(data)
    start = time.perf_counter()
    model = getattr(sklearn_autorec, cls_name)(**kwargs)
    if os.environ.get("SESSION_TABLE_VERBOSE") and "verbose" in model.get_params():
        model.set_params(verbose=True)  # progress on stderr; not a model setting
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the record only
        model.fit(train)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = session_report(model, test, k=20)
    return {"row": row, "data": data, "estimator": cls_name, "params": kwargs,
            "recall@20": report["recall@20"], "mrr@20": report["mrr@20"],
            "n_targets": report["n_targets"], "fit_seconds": seconds,
            "eval_seconds": time.perf_counter() - start,
            "n_iter": getattr(model, "n_iter_", None),
            "epoch_seconds": getattr(model, "epoch_seconds_", None),
            "threads": torch.get_num_threads(),
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def write_page(records):
    lines = [
        "# Session-based results",
        "",
        "Made by `python benchmarks/session_table.py` (records in",
        "`benchmarks/results/sessions.json`). Protocol: next-item prediction at every",
        "position of every test session (`sklearn_autorec.metrics.session_report`),",
        "Recall@20 and MRR@20 over all items, ties counted against the target; default",
        "parameters (`random_state=0`); the 2-core development machine, 1 torch thread",
        "unless the threads column says otherwise.",
        "",
    ]
    for data in DATASETS:
        lines += [f"## {data}", "",
                  "| model | Recall@20 | MRR@20 | fit s | threads | peak RSS GB |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in ROWS:
            r = records.get(f"{data} | {row}")
            if r:
                lines.append(f"| `{r['estimator']}()` | {r['recall@20']:.4f} | "
                             f"{r['mrr@20']:.4f} | {r['fit_seconds']:.1f} | "
                             f"{r['threads']} | {r['peak_rss_gb']:.2f} |")
        missing = [row for row in ROWS if f"{data} | {row}" not in records]
        if missing:
            lines += ["", f"Not run here: {', '.join(missing)} (see `docs/sessions.md`)."]
        lines += ["", "Peers on the same data (from issue 13):", "",
                  "| peer | Recall@20 | MRR@20 |", "|---|---:|---:|"]
        lines += [f"| {p} | {r} | {m} |" for p, r, m in PEERS[data]]
        lines.append("")
    PAGE.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--data", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per fit (default 1; recorded with the row)")
    parser.add_argument("--verbose", action="store_true",
                        help="print the neural models' epochs to stderr")
    args = parser.parse_args(argv)
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_row(*args.one)), flush=True)
        return
    for data in args.data:
        for row in args.rows:
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            if args.verbose:
                env["SESSION_TABLE_VERBOSE"] = "1"
            out = subprocess.run([sys.executable, __file__, "--one", row, data,
                                  "--threads", str(args.threads)], check=True,
                                 stdout=subprocess.PIPE, text=True, env=env).stdout
            record = json.loads(out.strip().splitlines()[-1])
            print(json.dumps(record), flush=True)
            # re-read: another run of this script may have added rows meanwhile
            records = json.loads(JSON.read_text()) if JSON.exists() else {}
            records[f"{data} | {row}"] = record
            JSON.parent.mkdir(exist_ok=True)
            JSON.write_text(json.dumps(records, indent=1))
            write_page(records)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
