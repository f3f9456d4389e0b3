"""Session 46 probe (run from the repository root): is the fine-tunes' drift down from the kept soup regression to the mean (the soup
was chosen on this carve) or learning? The kept soup moved in random directions by exactly as far,
tensor by tensor, as a fine-tune moved it, each scored on the carve like the fine-tune."""
import sys
from pathlib import Path
import torch
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.train.cli import _carve
from portrait_mobile.train.trainer import validate
from members import per_source
torch.set_num_threads(1)
soup_p, moved_p, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
val = _carve(Path(".traincache/train256.npz"))
soup, moved = Checkpoint.load(soup_p), Checkpoint.load(moved_p)
def show(tag, sd):
    m = soup.build(); m.load_state_dict(sd)
    r = validate(m, val, torch.device("cpu"))
    print(tag, f"{r['val_score']:.2f}", per_source(r), flush=True)
show("soup", soup.state_dict); show("moved", moved.state_dict)
keys = [k for k, v in soup.state_dict.items() if v.is_floating_point() and "running" not in k and "num_batches" not in k]
for seed in range(n):
    g = torch.Generator().manual_seed(seed)
    sd = dict(soup.state_dict)
    for k in keys:
        delta = moved.state_dict[k] - soup.state_dict[k]
        d = torch.randn(delta.shape, generator=g)
        sd[k] = soup.state_dict[k] + d * (delta.norm() / d.norm().clamp_min(1e-12))
    show(f"random {seed}", sd)
