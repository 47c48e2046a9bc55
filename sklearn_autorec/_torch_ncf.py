"""Torch side of neural collaborative filtering (He et al., WWW 2017).

The network of GMF, MLP and NeuMF, the batched sampling of negatives, and the
training of both estimators through the shared loop
:func:`~sklearn_autorec._torch_train.train_minibatch`.  Imported only to train.
"""

import numpy as np
import torch

from ._torch_train import seeded_generators, train_minibatch

__all__ = ["NCFNet", "sample_negatives", "train_ncf"]


class NCFNet(torch.nn.Module):
    """GMF, MLP or NeuMF over user and item embeddings; one logit per pair.

    * GMF: ``phi = p_u * q_i`` (``n_components`` factors);
    * MLP: ``z = tower([p'_u, q'_i])``, embeddings of ``hidden_layer_sizes[0] / 2``
      each, ReLU layers of ``hidden_layer_sizes[1:]``;
    * NeuMF: ``[phi, z]``; the output layer ``h . [...] + b`` is linear.
    """

    def __init__(self, n_users, n_items, model, n_components, hidden_layer_sizes,
                 generator, dtype=torch.float32):
        super().__init__()
        self.model = model
        self.use_gmf = model in ("gmf", "neumf")
        self.use_mlp = model in ("mlp", "neumf")
        width = 0

        def normal(*shape, std=0.01):
            return torch.nn.Parameter(
                torch.randn(*shape, generator=generator, dtype=dtype) * std)

        # One table per side, [GMF factors | MLP embedding]: one gather per side
        # and per batch, one optimizer tensor each (the official code has four).
        self.n_gmf = n_components if self.use_gmf else 0
        self.layers = torch.nn.ModuleList()
        half = 0
        if self.use_mlp:
            sizes = tuple(hidden_layer_sizes)
            half = sizes[0] // 2
            for a, b in zip((2 * half,) + sizes[1:-1], sizes[1:]):
                layer = torch.nn.Linear(a, b, dtype=dtype)
                bound = (6.0 / (a + b)) ** 0.5  # Glorot uniform, as the official code
                with torch.no_grad():
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.zero_()
                self.layers.append(layer)
            width += sizes[-1] if len(sizes) > 1 else 2 * half
        width += self.n_gmf
        self.user_emb = normal(n_users, self.n_gmf + half)
        self.item_emb = normal(n_items, self.n_gmf + half)
        # LeCun uniform output layer, as the official code
        bound = (3.0 / width) ** 0.5
        self.out_weight = torch.nn.Parameter(
            torch.empty(width, dtype=dtype).uniform_(-bound, bound, generator=generator))
        self.out_bias = torch.nn.Parameter(torch.zeros((), dtype=dtype))

    @property
    def user_gmf(self):
        return self.user_emb[:, :self.n_gmf]

    @property
    def item_gmf(self):
        return self.item_emb[:, :self.n_gmf]

    @property
    def user_mlp(self):
        return self.user_emb[:, self.n_gmf:]

    @property
    def item_mlp(self):
        return self.item_emb[:, self.n_gmf:]

    def tower(self, h):
        for layer in self.layers:
            h = torch.relu(layer(h))
        return h

    def forward(self, users, items):
        pu, qi = self.user_emb[users], self.item_emb[items]
        k, parts = self.n_gmf, []
        if self.use_gmf:
            parts.append(pu[:, :k] * qi[:, :k])
        if self.use_mlp:
            parts.append(self.tower(torch.cat([pu[:, k:], qi[:, k:]], 1)))
        return torch.cat(parts, 1) @ self.out_weight + self.out_bias

    def score_all(self, users):
        """Logits of ``users`` for every item, shape (len(users), n_items)."""
        n_items = self.item_emb.shape[0]
        out = torch.zeros(len(users), n_items, dtype=self.out_weight.dtype)
        k = 0
        if self.use_gmf:
            k = self.user_gmf.shape[1]
            out += (self.user_gmf[users] * self.out_weight[:k]) @ self.item_gmf.T
        if self.use_mlp:
            # first layer split between the user and the item halves
            width = self.layers[0].out_features if len(self.layers) else 0
            chunk = max(1, (1 << 22) // max(n_items * max(width, 1), 1))
            for s in range(0, len(users), chunk):
                u = users[s:s + chunk]
                if len(self.layers):
                    w = self.layers[0].weight
                    half = self.user_mlp.shape[1]
                    a = self.user_mlp[u] @ w[:, :half].T + self.layers[0].bias
                    b = self.item_mlp @ w[:, half:].T
                    h = torch.relu(a[:, None, :] + b[None, :, :])
                    for layer in self.layers[1:]:
                        h = torch.relu(layer(h))
                else:
                    h = torch.cat([self.user_mlp[u][:, None, :].expand(-1, n_items, -1),
                                   self.item_mlp[None].expand(len(u), -1, -1)], 2)
                out[s:s + chunk] += h @ self.out_weight[k:]
        return out + self.out_bias

    def to_numpy(self):
        """The parameters as float64 numpy arrays (the estimators' fitted state)."""
        def np_(t):
            return t.detach().cpu().double().numpy().copy()

        state = {"output_coef": np_(self.out_weight),
                 "output_intercept": float(self.out_bias.detach())}
        if self.use_gmf:
            state.update(user_gmf=np_(self.user_gmf), item_gmf=np_(self.item_gmf))
        if self.use_mlp:
            state.update(user_mlp=np_(self.user_mlp), item_mlp=np_(self.item_mlp),
                         coefs=[np_(layer.weight.T) for layer in self.layers],
                         intercepts=[np_(layer.bias) for layer in self.layers])
        return state

    def load_pretrained(self, gmf, mlp, mix=0.5):
        """NeuMF from fitted GMF and MLP nets: their layers, the outputs mixed."""
        with torch.no_grad():
            k = self.n_gmf
            self.user_emb[:, :k] = gmf.user_gmf
            self.item_emb[:, :k] = gmf.item_gmf
            self.user_emb[:, k:] = mlp.user_mlp
            self.item_emb[:, k:] = mlp.item_mlp
            for mine, theirs in zip(self.layers, mlp.layers):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
            k = gmf.out_weight.shape[0]
            self.out_weight[:k] = mix * gmf.out_weight
            self.out_weight[k:] = (1 - mix) * mlp.out_weight
            self.out_bias.copy_(mix * gmf.out_bias + (1 - mix) * mlp.out_bias)


def sample_negatives(rng, users, n_negatives, n_items, positive_keys, item_p=None):
    """``n_negatives`` items per entry of ``users``, none a positive of its user.

    Drawn uniformly (or from ``item_p``) for all at once; the draws that hit a
    positive (``positive_keys``: sorted ``user * n_items + item``) are redrawn,
    all together, until none is left.
    """
    u = np.repeat(users, n_negatives)

    def draw(m):
        return (rng.integers(0, n_items, m) if item_p is None
                else rng.choice(n_items, size=m, p=item_p))

    items = draw(len(u))
    bad = np.arange(len(u))
    for _ in range(100):
        keys = u[bad] * n_items + items[bad]
        pos = np.minimum(np.searchsorted(positive_keys, keys), len(positive_keys) - 1)
        hit = positive_keys[pos] == keys
        bad = bad[hit]
        if len(bad) == 0:
            return u, items
        items[bad] = draw(len(bad))
    raise ValueError(  # pragma: no cover - only for users who interacted with ~all items
        "Could not sample negatives: some users have interacted with almost every item.")


def train_ncf(*, n_users, n_items, model, n_components, hidden_layer_sizes, users, items,
              targets, task, n_negatives=4, item_p=None, validate=None, alpha=0.0,
              learning_rate=1e-3, batch_size=256, max_iter=20, n_iter_no_change=3,
              seed=0, device=torch.device("cpu"), verbose=False, init=None):
    """Train one NCF net; returns ``(net, TrainResult)``.

    ``task="ratings"``: squared loss of ``targets`` (ratings less the global
    mean) on the pairs.  ``task="implicit"``: log loss, the pairs are positives
    and ``n_negatives`` negatives per positive are sampled afresh every epoch.
    ``validate(net)`` returns a score to maximise.  ``init(net)`` may load
    weights (NeuMF pre-training).
    """
    cpu_gen, _ = seeded_generators(seed, device)
    net = NCFNet(n_users, n_items, model, n_components, hidden_layer_sizes, cpu_gen).to(device)
    if init is not None:
        init(net)
    rng = np.random.default_rng(seed)
    users_t = torch.as_tensor(users, dtype=torch.int64)
    items_t = torch.as_tensor(items, dtype=torch.int64)
    targets_t = torch.as_tensor(targets, dtype=torch.float32)
    positive_keys = np.sort(users.astype(np.int64) * n_items + items)

    def batches(epoch):
        if task == "ratings":
            u, i, t = users_t, items_t, targets_t
        else:
            neg_u, neg_i = sample_negatives(rng, users, n_negatives, n_items, positive_keys,
                                            item_p)
            u = torch.cat([users_t, torch.as_tensor(neg_u)])
            i = torch.cat([items_t, torch.as_tensor(neg_i)])
            t = torch.cat([torch.ones(len(users)), torch.zeros(len(neg_u))])
        order = torch.as_tensor(rng.permutation(len(u)))
        u, i, t = u[order].to(device), i[order].to(device), t[order].to(device)
        for s in range(0, len(u), batch_size):
            yield u[s:s + batch_size], i[s:s + batch_size], t[s:s + batch_size]

    def loss(batch, step):
        u, i, t = batch
        out = net(u, i)
        if task == "ratings":
            return torch.mean((out - t) ** 2)
        return torch.nn.functional.binary_cross_entropy_with_logits(out, t)

    result = train_minibatch(
        net, batches=batches, loss=loss,
        validate=None if validate is None else (lambda: validate(net)),
        max_iter=max_iter, n_iter_no_change=n_iter_no_change, lr=learning_rate,
        weight_decay=alpha, verbose=verbose, name=model.upper())
    return net, result
