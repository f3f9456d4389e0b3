"""Session 46 probe (run from the repository root): members' per-source fg IoU on training-split images (labelled, 160 per source drawn
with a fixed seed) against the carve: underfit or overfit?"""
import sys
import numpy as np, torch
from portrait_mobile.data.cache import load_cache
from portrait_mobile.train.trainer import select_split, carve_metrics
from portrait_mobile.metrics import MetricAccumulator
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.model_io import pixels_to_unit, unit_to_model_input
from portrait_mobile.train.teacher import LiteRTBatch
from portrait_mobile.reference.mediapipe_torch import predict_squashed
torch.set_num_threads(1)
data = load_cache(sys.argv[1], progress=False)
train, _ = select_split(data, (), use_teacher=False)
rng = np.random.default_rng(0)
idx = np.concatenate([rng.choice(np.flatnonzero(train.sources == s), 160, replace=False)
                      for s in sorted(set(train.sources.tolist()))])
sub = train.subset(np.sort(idx))
for member in sys.argv[2:]:
    if member == "mediapipe":
        m = LiteRTBatch("../shared/anchors/selfie_segmentation.tflite"); pred = lambda x: predict_squashed(m, x, flip=True); prep = lambda u: u
    else:
        model = Checkpoint.load(member).build().eval(); c = model.contract(); pred = model
        prep = lambda u, c=c: unit_to_model_input(u, c).contiguous(memory_format=torch.channels_last)
    acc = MetricAccumulator()
    for s in range(0, len(sub), 32):
        with torch.no_grad():
            p = pred(prep(pixels_to_unit(torch.from_numpy(sub.images[s:s + 32]))))[:, 0].numpy()
        for pi, g in zip(p, sub.masks[s:s + 32] > 127):
            acc.update(pi >= 0.5, g)
    m = carve_metrics(acc, sub.sources)
    print(member, f"{m['val_score']:.2f}", {k.split('/', 1)[1]: round(v, 2) for k, v in m.items() if k.startswith("val_fg_iou/")}, flush=True)
