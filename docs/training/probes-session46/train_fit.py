"""Session 46 probe (run from the repository root): members' per-source fg IoU on training-split images (labelled, 160 per source drawn
with a fixed seed) against the carve: underfit or overfit?"""
import sys
import numpy as np, torch
from portrait_mobile.data.cache import load_cache
from portrait_mobile.train.trainer import select_split
from portrait_mobile.metrics import MetricAccumulator
from members import member_probabilities, summary
torch.set_num_threads(1)
data = load_cache(sys.argv[1], progress=False)
train, _ = select_split(data, (), use_teacher=False)
rng = np.random.default_rng(0)
idx = np.concatenate([rng.choice(np.flatnonzero(train.sources == s), 160, replace=False)
                      for s in sorted(set(train.sources.tolist()))])
sub = train.subset(np.sort(idx))
for member in sys.argv[2:]:
    acc = MetricAccumulator()
    for pi, g in zip(member_probabilities(member, sub.images), sub.masks > 127):
        acc.update(pi >= 0.5, g)
    score, by_source = summary(acc, sub.sources)
    print(member, f"{score:.2f}", by_source, flush=True)
