"""Session 46 probe (run from the repository root): carve score of prediction ensembles (mean of member probabilities, threshold 0.5).
Members: checkpoints (.pt) or 'mediapipe' (flip-averaged LiteRT). Probabilities cached as uint8 .npy."""
import itertools, sys
from pathlib import Path
import numpy as np, torch
from portrait_mobile.train.cli import _carve
from portrait_mobile.metrics import MetricAccumulator
from members import member_probabilities, summary

torch.set_num_threads(1)
cache = Path(sys.argv[1]); out = Path(sys.argv[2]); members = sys.argv[3:]
out.mkdir(parents=True, exist_ok=True)
val = _carve(cache)
print("carve", len(val), flush=True)

def probs(member):
    f = out / (Path(member).stem + ".npy")
    if f.exists():
        return np.load(f)
    a = np.round(member_probabilities(member, val.images) * 255).astype(np.uint8)
    np.save(f, a)
    return a

def score(p):
    acc = MetricAccumulator()
    for pi, g in zip(p, val.masks > 127):
        acc.update(pi >= 127.5, g)
    return summary(acc, val.sources)

P = {}
for m in members:
    P[m] = probs(m).astype(np.float32)
    print(Path(m).stem, *score(P[m]), flush=True)
for r in (2, 3):
    for combo in itertools.combinations(members, r):
        p = sum(P[m] for m in combo) / r
        print(" + ".join(Path(m).stem for m in combo), *score(p), flush=True)
