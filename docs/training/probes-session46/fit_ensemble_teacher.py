"""Session 46 wrapper (run from the repository root): `portrait-train fit` with the in-loop teacher's map replaced by the mean of
MediaPipe's (as --teacher-in-loop builds it) and the probabilities of the checkpoints in
$ENSEMBLE_CKPTS (comma-separated, frozen, eval mode)."""
import os, sys
import torch
from portrait_mobile.train import teacher as T, trainer
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.model_io import unit_to_model_input

members = [p for p in os.environ["ENSEMBLE_CKPTS"].split(",") if p]
original = T.load_in_loop_teacher


def load_ensemble_teacher(path, device, mix_share=0.0):
    t = original(path, device, mix_share)
    models = [Checkpoint.load(p).build().to(device).eval() for p in members]
    base = t.predict

    def predict(x):
        maps = [base(x).float()]
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            for m in models:
                maps.append(m(unit_to_model_input(x.float(), m.contract()).contiguous(
                    memory_format=torch.channels_last)).float())
        return sum(maps) / len(maps)

    t.predict = predict
    print(f"in-loop teacher: mean of {path} and {members}", flush=True)
    return t


trainer.load_in_loop_teacher = load_ensemble_teacher
from portrait_mobile.train.cli import main  # noqa: E402
sys.exit(main(["fit", *sys.argv[1:]]))
