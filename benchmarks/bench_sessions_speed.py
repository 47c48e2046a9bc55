"""Seconds per training epoch of the session models against plain PyTorch (issue 13).

Contestants, interleaved in ONE process (ours, plain, ours, plain, ... so that
the load of a shared machine hits both alike), one torch thread:

* ours: ``GRU4RecRecommender(max_iter=1, early_stopping=False, random_state=0)``,
  its ``epoch_seconds_[0]`` (the shared training loop; the item tables read with
  ``embedding(..., sparse=True)`` and only their rows of the step updated, by
  the estimator's row-lazy Adagrad);
* plain: GRU4Rec as a user would write it from the paper: ``nn.Embedding``
  (tied to the output table, as our default ``embedding_size="tied"``),
  ``nn.GRUCell``, ``nn.Dropout``, the same optimizer dense over all parameters
  (GRU4Rec's Adagrad as a ``torch.optim.Optimizer`` of four lines, or
  ``torch.optim.Adam`` for Adam settings), ``zero_grad()`` every step.  It reuses the
  package's ``session_parallel_batches`` and ``sampled_loss`` and draws the
  same popularity-sampled negatives from the same seed, in the same session
  order, so the two differ only in the parameter update and the indexing.

Settings: the package defaults (cross-entropy, 100 units, batch 64, n_sample
2048), the issue's cross-entropy setting (192 units, batch 128, n_sample 2048)
and the official code's Diginetica BPR-max parameter file (512 units, batch
128; without its momentum, which torch's Adagrad lacks, and its ELU),
on Diginetica (``../shared/data/diginetica/train.csv.gz``) and rsc15-100k
(``train_full``).  ``--max-steps N`` times the first ``N`` steps of the epoch
and extrapolates (``seconds * epoch_steps / N``; the records say which).  As a
correctness guard the mean training loss of the timed steps of both
contestants is printed and stored (the same batches, negatives and
initialisation scheme: they should agree to a few percent).

Also (``--narm-batches N``, 0 to skip) ``NARMRecommender`` (defaults)
against a plain NARM (``nn.Embedding``, ``nn.GRU``, attention, bilinear
decoder, ``F.cross_entropy`` over all items, ``torch.optim.Adam``): ``N``
batches of 512 prefixes (the same fixed random subset of the epoch's
prefixes for both), extrapolated to the epoch of every prefix.

Usage (the numbers of ``docs/sessions_speed.md``)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_sessions_speed.py
    python benchmarks/bench_sessions_speed.py --device cuda     # a GPU, one command

Writes (merges by key) ``benchmarks/results/sessions_speed.json`` and rewrites
``docs/sessions_speed.md`` from all its records.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import check_random_state

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import sklearn_autorec._gru4rec as gru4rec_module  # noqa: E402
import sklearn_autorec._narm as narm_module  # noqa: E402
from bench_sessions_gru4rec import load  # noqa: E402
from sklearn_autorec._gru4rec import (  # noqa: E402
    SAMPLE_CHUNK, GRU4RecRecommender, sampled_loss, session_parallel_batches)
from sklearn_autorec._narm import NARMRecommender  # noqa: E402
from sklearn_autorec._sessions import EncodedSessions, parse_sessions  # noqa: E402

JSON = HERE / "results" / "sessions_speed.json"
PAGE = HERE.parent / "docs" / "sessions_speed.md"
DATASETS = {"diginetica": "diginetica", "rsc15-100k": "rsc15"}
SETTINGS = {
    "defaults (cross-entropy, 100, batch 64, n_sample 2048)": {},
    "cross-entropy (192, batch 128, n_sample 2048)": {
        "hidden_layer_sizes": (192,), "batch_size": 128, "n_sample": 2048,
        "loss": "cross-entropy"},
    "bpr-max (512, batch 128, n_sample 2048)": {
        "hidden_layer_sizes": (512,), "batch_size": 128, "n_sample": 2048,
        "loss": "bpr-max", "dropout_embedding": 0.5, "dropout_hidden": 0.3,
        "sample_alpha": 0.3, "bpreg": 0.9},
}
#: Official GRU4Rec code's seconds per epoch on Diginetica, as measured by issue 13.
OFFICIAL = {"cross-entropy (192, batch 128, n_sample 2048)": 61.0,
            "bpr-max (512, batch 128, n_sample 2048)": 205.0}
#: Relative difference of the two contestants' mean training loss that fails the guard.
LOSS_TOLERANCE = 0.10


def encode(frame):
    """The training sessions encoded as the estimators' ``fit`` encodes them."""
    parsed = parse_sessions(frame)
    parsed = parsed.subset(parsed.lengths() >= 2)
    ids, codes = np.unique(parsed.items, return_inverse=True)
    return (EncodedSessions(codes.astype(np.int64), parsed.offsets, len(ids), parsed.times),
            ids)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def patched(module, name, replacement):
    original = getattr(module, name)
    setattr(module, name, replacement(original))
    try:
        yield
    finally:
        setattr(module, name, original)


# ------------------------------------------------------------------ GRU4Rec
def full_params(setting, device):
    params = GRU4RecRecommender().get_params()
    params.update(SETTINGS[setting], max_iter=1, early_stopping=False, random_state=0,
                  device=device)
    return params


def epoch_order(params, data):
    """The package's seed, random generator and first-epoch session order."""
    seed = check_random_state(params["random_state"]).randint(2 ** 31 - 1)
    rng = np.random.default_rng(seed)
    if params["session_order"] == "time":  # by first click, as the estimator
        order = data.time_order()
    else:
        order = rng.permutation(len(data))
    return seed, rng, order


class DenseAdagrad(torch.optim.Optimizer):
    """GRU4Rec's Adagrad, dense over every element: ``G += g ** 2``,
    ``w -= lr * g / sqrt(G + eps)``.  (``torch.optim.Adagrad`` puts ``eps``
    outside the root, so every element with a gradient, however small, moves
    by about ``lr`` on the first step: a different algorithm, which diverges
    at 512 units.)"""

    def __init__(self, parameters, lr, eps=1e-6):
        super().__init__(parameters, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                acc = self.state[p].setdefault("acc", torch.zeros_like(p))
                acc.addcmul_(p.grad, p.grad)
                p.addcdiv_(p.grad, acc.add(group["eps"]).sqrt_(), value=-group["lr"])


def make_plain_optimizer(params, parameters):
    """The estimator's optimizer, dense over every parameter."""
    if params["optimizer"] == "adagrad":
        if params["momentum"]:
            raise ValueError("the plain Adagrad has no momentum; time momentum=0 settings")
        return DenseAdagrad(parameters, lr=params["learning_rate"])
    return torch.optim.Adam(parameters, lr=params["learning_rate"])


def count_steps(data, params):
    _, _, order = epoch_order(params, data)
    batch = min(int(params["batch_size"]), len(data))
    return sum(1 for _ in session_parallel_batches(data.offsets, order, batch))


def run_ours(frame, params, max_steps, item_ids):
    def capped(original):
        def batches(offsets, order, batch_size):
            return islice(original(offsets, order, batch_size), max_steps)
        return batches

    model = GRU4RecRecommender(**params)
    with patched(gru4rec_module, "session_parallel_batches", capped):
        model.fit(frame)
    if not np.array_equal(model.item_ids_, item_ids):
        raise RuntimeError("the benchmark's item encoding differs from the estimator's")
    return {"seconds": model.epoch_seconds_[0], "steps": model.n_updates_,
            "loss": model.loss_curve_[0]}


class PlainGRU4Rec(torch.nn.Module):
    """GRU4Rec written from the paper: embedding, GRU cells, sampled output."""

    def __init__(self, n_items, hidden, embedding_size, p_embed, p_hidden):
        super().__init__()
        self.items = torch.nn.Embedding(n_items, hidden[-1])  # output item embeddings
        self.bias = torch.nn.Parameter(torch.zeros(n_items))
        tied = embedding_size == "tied"
        self.inputs = self.items if tied else torch.nn.Embedding(n_items, embedding_size)
        sizes = [hidden[-1] if tied else embedding_size, *hidden]
        self.cells = torch.nn.ModuleList(
            [torch.nn.GRUCell(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.drop_embed = torch.nn.Dropout(p_embed)
        self.drop_hidden = torch.nn.Dropout(p_hidden)
        with torch.no_grad():  # GRU4Rec's initialisation, as the official code
            for table in {id(t): t for t in (self.items, self.inputs)}.values():
                bound = np.sqrt(6.0 / sum(table.weight.shape))
                table.weight.uniform_(-bound, bound)
            for cell in self.cells:
                for w in (cell.weight_ih, cell.weight_hh):
                    bound = np.sqrt(6.0 / (w.shape[1] + w.shape[0] // 3))
                    w.uniform_(-bound, bound)
                cell.bias_ih.zero_()
                cell.bias_hh.zero_()

    def forward(self, inputs, states, columns):
        x = self.drop_embed(self.inputs(inputs))
        new = []
        for cell, h in zip(self.cells, states):
            h = cell(x, h)
            new.append(h)
            x = self.drop_hidden(h)
        return new, x @ self.items(columns).T + self.bias[columns]


def run_plain(data, params, max_steps, device):
    seed, rng, order = epoch_order(params, data)
    torch.manual_seed(seed)
    hidden = tuple(int(h) for h in params["hidden_layer_sizes"])
    net = PlainGRU4Rec(data.n_items, hidden, params["embedding_size"],
                       params["dropout_embedding"], params["dropout_hidden"]).to(device)
    optimizer = make_plain_optimizer(params, net.parameters())
    popularity = np.bincount(data.items, minlength=data.n_items).astype(np.float64)
    weights = popularity ** float(params["sample_alpha"])
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    log_q = torch.as_tensor(np.log(np.maximum(weights / weights.sum(), 1e-30)),
                            dtype=torch.float32, device=device)
    n_sample = int(params["n_sample"])
    batch = min(int(params["batch_size"]), len(data))
    items = torch.as_tensor(data.items, device=device)
    states = [torch.zeros(batch, h, device=device) for h in hidden]
    net.train()
    sync(device)
    start = time.perf_counter()
    total, steps = 0.0, 0
    for step, (slots, inputs, targets, reset) in enumerate(islice(
            session_parallel_batches(data.offsets, order, batch), max_steps)):
        if step % SAMPLE_CHUNK == 0:
            cache = np.minimum(np.searchsorted(
                cdf, rng.random((SAMPLE_CHUNK, n_sample)), side="right"), data.n_items - 1)
        slots = torch.as_tensor(slots, device=device)
        keep = torch.as_tensor(~reset, device=device).float()[:, None]
        target_items = items[torch.as_tensor(targets, device=device)]
        columns = torch.cat([target_items,
                             torch.as_tensor(cache[step % SAMPLE_CHUNK], device=device)])
        optimizer.zero_grad()
        new, scores = net(items[torch.as_tensor(inputs, device=device)],
                          [h[slots] * keep for h in states], columns)
        for h, n in zip(states, new):
            h[slots] = n.detach()
        if params["logq"] and params["loss"] == "cross-entropy":  # as the estimator
            scores = scores - params["logq"] * log_q[columns]
        value = sampled_loss(scores, params["loss"], float(params["bpreg"]),
                             columns[None, :] != target_items[:, None])
        value = value * (len(slots) / batch)  # as the estimator: sum over rows / batch
        value.backward()
        optimizer.step()
        total += float(value.detach())
        steps += 1
    sync(device)
    return {"seconds": time.perf_counter() - start, "steps": steps, "loss": total / steps}


# --------------------------------------------------------------------- NARM
class PlainNARM(torch.nn.Module):
    """NARM written from the paper (Li et al. 2017), full softmax over all items."""

    def __init__(self, n_items, embedding_dim, hidden_size, p_embed, p_output):
        super().__init__()
        self.embedding = torch.nn.Embedding(n_items, embedding_dim)
        self.gru = torch.nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.a1 = torch.nn.Linear(hidden_size, hidden_size, bias=False)
        self.a2 = torch.nn.Linear(hidden_size, hidden_size, bias=False)
        self.v = torch.nn.Linear(hidden_size, 1, bias=False)
        self.b = torch.nn.Linear(2 * hidden_size, embedding_dim, bias=False)
        self.drop_embed = torch.nn.Dropout(p_embed)
        self.drop_output = torch.nn.Dropout(p_output)
        with torch.no_grad():  # N(0, 1 / dim) as ours (torch's default N(0, 1) is too wide
            self.embedding.weight.normal_(0.0, embedding_dim ** -0.5)  # for a dot decoder)

    def forward(self, items, lengths):
        x = self.drop_embed(self.embedding(items))
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                         enforce_sorted=False)
        out, last = self.gru(packed)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=items.shape[1])
        last = last[0]
        mask = (torch.arange(items.shape[1], device=items.device)[None, :]
                < lengths.to(items.device)[:, None])
        alpha = self.v(torch.sigmoid(self.a1(last)[:, None, :] + self.a2(states)))[..., 0]
        local = ((alpha * mask)[..., None] * states).sum(1)
        c = self.drop_output(torch.cat([last, local], dim=1))
        return self.b(c) @ self.embedding.weight.T


def narm_params(device):
    params = NARMRecommender().get_params()
    params.update(max_iter=1, early_stopping=False, random_state=0, device=device)
    return params


def narm_subset(n_examples, max_batches, batch_size):
    """A fixed random subset of ``max_batches`` batches of the epoch's prefixes."""
    keep = min(n_examples, max_batches * batch_size)
    return np.sort(np.random.default_rng(0).choice(n_examples, keep, replace=False))


def run_ours_narm(frame, params, max_batches):
    counted = {}

    def capped(original):
        def examples(offsets, max_length):
            starts, lengths, targets = original(offsets, max_length)
            counted["n"] = len(targets)
            rows = narm_subset(len(targets), max_batches, int(params["batch_size"]))
            return starts[rows], lengths[rows], targets[rows]
        return examples

    model = NARMRecommender(**params)
    with patched(narm_module, "_prefix_examples", capped):
        model.fit(frame)
    return {"seconds": model.epoch_seconds_[0], "steps": model.n_updates_,
            "loss": model.loss_curve_[0],
            "epoch_steps": -(-counted["n"] // int(params["batch_size"]))}


def run_plain_narm(data, params, max_batches, device):
    starts, lengths, targets = narm_module._prefix_examples(data.offsets,
                                                            int(params["max_length"]))
    batch = int(params["batch_size"])
    rows = narm_subset(len(targets), max_batches, batch)
    starts, lengths, targets = starts[rows], lengths[rows], targets[rows]
    torch.manual_seed(0)
    net = PlainNARM(data.n_items, int(params["embedding_dim"]), int(params["hidden_size"]),
                    params["dropout_embedding"], params["dropout_output"]).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=params["learning_rate"])
    order = np.random.default_rng(1).permutation(len(targets))
    net.train()
    sync(device)
    start = time.perf_counter()
    total, steps = 0.0, 0
    for a in range(0, len(order), batch):
        r = order[a:a + batch]
        steps_max = int(lengths[r].max())
        mask = np.arange(steps_max)[None, :] < lengths[r][:, None]
        idx = np.where(mask, starts[r][:, None] + np.arange(steps_max)[None, :], 0)
        padded = torch.as_tensor(np.where(mask, data.items[idx], 0), device=device)
        target = torch.as_tensor(data.items[targets[r]], device=device)
        optimizer.zero_grad()
        value = torch.nn.functional.cross_entropy(
            net(padded, torch.as_tensor(lengths[r])), target)
        value.backward()
        optimizer.step()
        total += float(value.detach())
        steps += 1
    sync(device)
    return {"seconds": time.perf_counter() - start, "steps": steps, "loss": total / steps}


# ------------------------------------------------------------------ driver
def record(dataset, setting, contestant, runs, epoch_steps, device, common):
    best = min(r["seconds"] for r in runs)
    steps = runs[0]["steps"]
    return {"dataset": dataset, "setting": setting, "contestant": contestant,
            "device": device, "seconds_per_epoch": best * epoch_steps / steps,
            "extrapolated": steps < epoch_steps, "steps_timed": steps,
            "epoch_steps": epoch_steps,
            "round_seconds": [r["seconds"] for r in runs],
            "mean_training_loss": [r["loss"] for r in runs], **common}


def compare(records, ours, plain):
    """Ratio plain / ours and the loss guard, added to both records."""
    ratio = plain["seconds_per_epoch"] / ours["seconds_per_epoch"]
    lo, lp = np.mean(ours["mean_training_loss"]), np.mean(plain["mean_training_loss"])
    gap = abs(lo - lp) / max(abs(lp), 1e-12)
    for r in (ours, plain):
        r.update(ratio_plain_over_ours=ratio, loss_relative_gap=gap,
                 loss_guard_ok=bool(gap <= LOSS_TOLERANCE))
    print(f"  -> ours {ours['seconds_per_epoch']:.1f} s/epoch, plain "
          f"{plain['seconds_per_epoch']:.1f} s/epoch, plain/ours {ratio:.2f}; mean loss "
          f"ours {lo:.4f} plain {lp:.4f} (gap {gap:.1%}"
          f"{'' if gap <= LOSS_TOLERANCE else ', GUARD FAILED'})", flush=True)
    records += [ours, plain]


def machine():
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=tuple(DATASETS), default=list(DATASETS))
    parser.add_argument("--max-steps", type=int, default=600,
                        help="GRU4Rec steps timed per run (the rest of the epoch is "
                             "extrapolated; 0: whole epochs)")
    parser.add_argument("--rounds", type=int, default=2, help="ours, plain pairs per case")
    parser.add_argument("--settings", nargs="+", choices=tuple(SETTINGS), default=list(SETTINGS),
                        metavar="SETTING", help="GRU4Rec settings to time (default: all)")
    parser.add_argument("--narm-batches", type=int, default=8,
                        help="NARM batches timed per run (0: skip NARM)")
    parser.add_argument("--narm-data", nargs="+", choices=tuple(DATASETS),
                        default=list(DATASETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    common = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": machine() if device.type == "cpu" else
              torch.cuda.get_device_name(device)}
    load_before = os.getloadavg()
    records = []
    frames = {}
    for dataset in args.data:
        frame = load(DATASETS[dataset], False)[0]
        data, ids = encode(frame)
        frames[dataset] = frame, data
        print(f"{dataset}: {len(data)} sessions, {data.n_items} items, "
              f"{len(data.items)} clicks", flush=True)
        for setting in args.settings:
            params = full_params(setting, args.device)
            epoch_steps = count_steps(data, params)
            steps = epoch_steps if args.max_steps <= 0 else min(args.max_steps, epoch_steps)
            print(f" {setting}: timing {steps} of {epoch_steps} steps per run", flush=True)
            ours, plain = [], []
            for rnd in range(args.rounds):
                ours.append(run_ours(frame, params, steps, ids))
                plain.append(run_plain(data, params, steps, device))
                print(f"  round {rnd + 1}: ours {ours[-1]['seconds']:.2f} s (loss "
                      f"{ours[-1]['loss']:.4f}), plain {plain[-1]['seconds']:.2f} s (loss "
                      f"{plain[-1]['loss']:.4f}), load {os.getloadavg()[0]:.2f}", flush=True)
            extra = dict(common, load_average=list(os.getloadavg()))
            compare(records,
                    record(dataset, setting, "GRU4RecRecommender", ours, epoch_steps,
                           args.device, extra),
                    record(dataset, setting, "plain PyTorch GRU4Rec", plain, epoch_steps,
                           args.device, extra))
    if args.narm_batches > 0:
        for dataset in args.narm_data:
            if dataset not in frames:
                frame = load(DATASETS[dataset], False)[0]
                frames[dataset] = frame, encode(frame)[0]
            frame, data = frames[dataset]
            params = narm_params(args.device)
            setting = "NARM defaults (50, 100, batch 512, full softmax)"
            print(f" {dataset} {setting}: timing {args.narm_batches} batches per run",
                  flush=True)
            ours, plain = [], []
            for rnd in range(args.rounds):
                ours.append(run_ours_narm(frame, params, args.narm_batches))
                plain.append(run_plain_narm(data, params, args.narm_batches, device))
                print(f"  round {rnd + 1}: ours {ours[-1]['seconds']:.2f} s (loss "
                      f"{ours[-1]['loss']:.4f}), plain {plain[-1]['seconds']:.2f} s (loss "
                      f"{plain[-1]['loss']:.4f}), load {os.getloadavg()[0]:.2f}", flush=True)
            epoch_steps = ours[0]["epoch_steps"]
            extra = dict(common, load_average=list(os.getloadavg()))
            compare(records,
                    record(dataset, setting, "NARMRecommender", ours, epoch_steps,
                           args.device, extra),
                    record(dataset, setting, "plain PyTorch NARM", plain, epoch_steps,
                           args.device, extra))
    command = "python benchmarks/bench_sessions_speed.py " + shlex.join(sys.argv[1:])
    for r in records:
        r.update(command=command.strip(), load_average_start=list(load_before))
    if args.no_write:
        print(json.dumps(records, indent=1))
        return
    stored = json.loads(JSON.read_text()) if JSON.exists() else {}
    stored = {record_key(r): r for r in [*stored.values(), *records]}
    JSON.write_text(json.dumps(stored, indent=1) + "\n")
    PAGE.write_text(render(stored))
    print(f"wrote {JSON} and {PAGE}")


def record_key(r):
    return " | ".join((r["device"], f"{r['threads']} thread(s)", r["dataset"], r["setting"],
                       r["contestant"]))


def render(stored):
    """docs/sessions_speed.md from all stored records."""
    lines = [
        "# Session models: seconds per training epoch",
        "",
        "Made by `benchmarks/bench_sessions_speed.py` (records in",
        "`benchmarks/results/sessions_speed.json`). Each case runs our estimator and a",
        "plain PyTorch version of the same model interleaved in one process (ours, plain,",
        "ours, plain), with the torch threads of its section; the table gives the faster",
        "round of each",
        "(*ours*: `GRU4RecRecommender` or `NARMRecommender`).",
        "",
        "- **ours**: `GRU4RecRecommender(max_iter=1, early_stopping=False,",
        "  random_state=0, ...)`, its `epoch_seconds_[0]`: the item tables are read with",
        "  `embedding(..., sparse=True)` and only the rows a step reads are updated (by",
        "  the estimator's row-lazy Adagrad, GRU4Rec's optimizer), the GRU and the bias",
        "  densely.",
        "- **plain**: GRU4Rec as written from the paper: `nn.Embedding` tied to the output",
        "  table, `nn.GRUCell`, `nn.Dropout`, the same Adagrad dense over all parameters",
        "  (`torch.optim.Adagrad` puts eps outside the square root, a different update",
        "  that diverges at 512 units), `zero_grad()` every step. It uses the package's",
        "  `session_parallel_batches` and `sampled_loss` and the same session order and",
        "  popularity-sampled negatives, so the two differ only in the parameter update",
        "  and the indexing.",
        "- NARM: `NARMRecommender()` against a plain NARM (`nn.Embedding`, `nn.GRU`,",
        "  attention, bilinear decoder, `F.cross_entropy` over all items,",
        "  `torch.optim.Adam`), on the same random subset of the epoch's prefixes.",
        "",
        "Where fewer steps were timed than an epoch has, seconds per epoch are",
        "extrapolated: `seconds * epoch steps / steps timed` (column *steps*). The loss",
        "columns are the mean training loss of the timed steps (the correctness guard:",
        "the same computation should give about the same loss; dropout and",
        "initialisation draws differ).",
        "",
    ]
    by_case = {}
    for r in stored.values():
        by_case.setdefault(((r["device"], r["threads"]), r["dataset"], r["setting"]),
                           {})[r["contestant"]] = r
    for device in sorted({k[0] for k in by_case}):
        cases = [(k, v) for k, v in by_case.items() if k[0] == device]
        first = cases[0][1][next(iter(cases[0][1]))]
        runs = {}  # the runs behind the rows, each with its load at the start
        for _, pair in cases:
            for r in pair.values():
                runs.setdefault(r["command"], r["load_average_start"][0])
        lines += [f"## {device[0]}, {device[1]} thread(s): {first['machine']}", "",
                  f"torch {first['torch']}, {first['threads']} thread(s); the rows come from "
                  + "; ".join(f"`{c}` (load average at the start {load:.2f})"
                              for c, load in runs.items()) + ".", "",
                  "| data | setting | ours s/epoch | plain s/epoch | plain / ours | steps "
                  "(timed / epoch) | loss ours / plain |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for (_, dataset, setting), pair in cases:
            ours = next(v for k, v in pair.items() if not k.startswith("plain"))
            plain = next(v for k, v in pair.items() if k.startswith("plain"))
            guard = "" if ours["loss_guard_ok"] else " (guard failed)"
            lines.append(
                f"| {dataset} | {setting} | {ours['seconds_per_epoch']:.1f} | "
                f"{plain['seconds_per_epoch']:.1f} | {ours['ratio_plain_over_ours']:.2f} | "
                f"{ours['steps_timed']} / {ours['epoch_steps']} | "
                f"{np.mean(ours['mean_training_loss']):.4f} / "
                f"{np.mean(plain['mean_training_loss']):.4f}{guard} |")
        lines.append("")
    cpu = {(k[0][1], k[1], k[2]): v for k, v in by_case.items() if k[0][0] == "cpu"}
    lines += [
        "## The official code",
        "",
        "Issue 13 measured the official GRU4Rec code on Diginetica on this machine at",
        "about 61 s per cross-entropy epoch (layers 192, batch 128, n_sample 2048) and",
        "about 205 s per epoch of its BPR-max parameter file (512 units, batch 128).",
        "Those numbers are quoted, not measured by this benchmark: other code, an",
        "unknown number of threads and another time on a shared machine whose load",
        "varies, so compare them with the Diginetica rows only roughly:",
        "",
    ]
    for setting, official in OFFICIAL.items():
        for threads in sorted({k[0] for k in cpu}):
            pair = cpu.get((threads, "diginetica", setting))
            if pair is None:
                continue
            ours = pair["GRU4RecRecommender"]["seconds_per_epoch"]
            lines.append(f"- {setting}, {threads} thread(s): `GRU4RecRecommender` {ours:.0f} s "
                         f"per epoch here, the official code {official:.0f} s "
                         f"({ours / official:.2f} times its time).")
    lines += [
        "",
        "The machine of the CPU rows: the project's 2-core shared Xeon, loaded by other",
        "jobs (the load average is in the records). The `--device cuda` path is written",
        "for both contestants but has not been run (no GPU was available).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
