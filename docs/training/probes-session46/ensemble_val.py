"""Session 46 probe (run from the repository root): carve score of prediction ensembles (mean of member probabilities, threshold 0.5).
Members: checkpoints (.pt) or 'mediapipe' (flip-averaged LiteRT). Probabilities cached as uint8 .npy."""
import itertools, sys
from pathlib import Path
import numpy as np, torch
from portrait_mobile.train.cli import _carve
from portrait_mobile.train.trainer import carve_metrics
from portrait_mobile.metrics import MetricAccumulator
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.model_io import pixels_to_unit, unit_to_model_input
from portrait_mobile.train.teacher import LiteRTBatch
from portrait_mobile.reference.mediapipe_torch import predict_squashed

torch.set_num_threads(1)
cache = Path(sys.argv[1]); out = Path(sys.argv[2]); members = sys.argv[3:]
out.mkdir(parents=True, exist_ok=True)
val = _carve(cache)
print("carve", len(val), flush=True)

def probs(member):
    f = out / (Path(member).stem + ".npy")
    if f.exists():
        return np.load(f)
    res = []
    if member == "mediapipe":
        m = LiteRTBatch("../shared/anchors/selfie_segmentation.tflite")
        pred = lambda x: predict_squashed(m, x, flip=True)
        prep = lambda u: u
    else:
        model = Checkpoint.load(member).build().eval()
        c = model.contract()
        pred = model
        prep = lambda u: unit_to_model_input(u, c).contiguous(memory_format=torch.channels_last)
    for s in range(0, len(val), 32):
        u = pixels_to_unit(torch.from_numpy(val.images[s:s + 32]))
        with torch.no_grad():
            p = pred(prep(u))[:, 0].float().numpy()
        res.append(np.round(p * 255).astype(np.uint8))
    a = np.concatenate(res)
    np.save(f, a)
    return a

def score(p):
    acc = MetricAccumulator()
    for pi, g in zip(p, val.masks > 127):
        acc.update(pi >= 127.5, g)
    m = carve_metrics(acc, val.sources)
    return m["val_score"], {k.split("/", 1)[1]: round(v, 2) for k, v in m.items() if k.startswith("val_fg_iou/")}

P = {}
for m in members:
    P[m] = probs(m).astype(np.float32)
    print(Path(m).stem, *score(P[m]), flush=True)
for r in (2, 3):
    for combo in itertools.combinations(members, r):
        p = sum(P[m] for m in combo) / r
        print(" + ".join(Path(m).stem for m in combo), *score(p), flush=True)
