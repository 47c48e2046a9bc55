"""
Next-item prediction in sessions: GRU4Rec and NARM against transitions
======================================================================

The session recommenders predict a visitor's next click from the clicks of
the current session alone. :class:`~sklearn_autorec.GRU4RecRecommender` and
:class:`~sklearn_autorec.NARMRecommender` read the whole prefix;
:class:`~sklearn_autorec.ItemTransitionRecommender` looks at its last item
only, and :class:`~sklearn_autorec.SessionPopularityRecommender` at nothing.
:func:`~sklearn_autorec.metrics.session_report` scores them at every
position of every test session (the clicks before ``t`` predict click ``t``).

The sessions are synthetic, made so that the last item is not enough: 50
items on a ring, and each session walks it in one direction (clockwise or
anticlockwise, drawn per session) by steps of 1 or 2, with an occasional jump
to a random item. After ``..., 11, 12`` the next item is most likely 13, after
``..., 13, 12`` it is 11: the last item alone cannot tell, the prefix can.
The data is tiny and the models train for a few epochs, so this runs in
seconds; it says nothing about real click data (see :doc:`/sessions` and
:doc:`/sessions_results` for measured numbers).
"""

# %%
# Data: 1,200 training and 300 test sessions of 3 to 10 clicks, each a list of
# item ids in click order (a list of sequences is always sessions).
import matplotlib.pyplot as plt
import numpy as np

from sklearn_autorec import (
    GRU4RecRecommender,
    ItemTransitionRecommender,
    NARMRecommender,
    SessionPopularityRecommender,
)
from sklearn_autorec.metrics import session_report

N_ITEMS = 50
rng = np.random.default_rng(0)


def make_sessions(n_sessions):
    sessions = []
    for _ in range(n_sessions):
        direction = rng.choice([-1, 1])
        item = int(rng.integers(N_ITEMS))
        session = [item]
        for _ in range(rng.integers(2, 10)):
            if rng.random() < 0.1:
                item = int(rng.integers(N_ITEMS))  # a jump
            else:
                item = int((item + direction * rng.choice([1, 2], p=[0.7, 0.3])) % N_ITEMS)
            session.append(item)
        sessions.append(session)
    return sessions


train, test = make_sessions(1200), make_sessions(300)
print(f"{sum(map(len, train))} training clicks; first session: {train[0]}")

# %%
# One fit per model. The neural models are much smaller than their defaults
# and train for 3 epochs on all the training sessions (NARM with a larger
# learning rate, and without early stopping: its validation Recall@20 is near
# 0.95 from the first epoch on, so it cannot tell the epochs apart). With 50
# items the GRU4Rec loss needs no sampled negatives: ``n_sample=0``.
models = {
    "Popularity": SessionPopularityRecommender(),
    "Transitions": ItemTransitionRecommender(),
    "GRU4Rec": GRU4RecRecommender(hidden_layer_sizes=(50,), n_sample=0, batch_size=32,
                                  max_iter=3, random_state=0, device="cpu"),
    "NARM": NARMRecommender(embedding_dim=32, hidden_size=50, batch_size=128,
                            learning_rate=0.005, max_iter=3, early_stopping=False,
                            random_state=0, device="cpu"),
}
ks = np.arange(1, 11)
recall = {}
for name, model in models.items():
    model.fit(train)
    recall[name] = [session_report(model, test, k=int(k))[f"recall@{k}"] for k in ks]
    report = session_report(model, test, k=20)
    print(f"{name:12s} Recall@1 {recall[name][0]:.3f}  Recall@20 {report['recall@20']:.3f}"
          f"  MRR@20 {report['mrr@20']:.3f}")

# %%
# One session's next items: ``recommend`` takes prefixes (oldest click first)
# and returns the 10 best next items and their scores. GRU4Rec's scores are
# logits, the transitions' are counts: compare the orders, not the values.
prefix = [10, 11, 12]
gru_items, gru_scores = models["GRU4Rec"].recommend([prefix], n=10)
tr_items, tr_scores = models["Transitions"].recommend([prefix], n=10)
print("GRU4Rec:    ", gru_items[0])
print("Transitions:", tr_items[0])

# %%
# Left: Recall@k (the share of test clicks in the top k) against k. Middle and
# right: the top-10 next items after the prefix ``10, 11, 12``, a clockwise walk;
# the items ahead of 12 in that direction (13, 14) are orange.
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for name, values in recall.items():
    axes[0].plot(ks, values, marker=".", label=name)
axes[0].set(xlabel="cut-off k", ylabel="Recall@k", title="Next click in test sessions")
axes[0].legend(fontsize="small")
for ax, name, items, scores in ((axes[1], "GRU4Rec", gru_items[0], gru_scores[0]),
                                (axes[2], "Transitions", tr_items[0], tr_scores[0])):
    colors = ["tab:orange" if item in (13, 14) else "tab:blue" for item in items]
    ax.bar(np.arange(10), scores, color=colors)
    ax.set_xticks(np.arange(10), [str(item) for item in items])
    ax.set(xlabel="next item (best first)", ylabel="score",
           title=f"{name}: after {', '.join(map(str, prefix))}")
fig.tight_layout()
plt.show()
