"""What the session 46 probes share: a member's probabilities on cached images (a checkpoint, or
'mediapipe' as the in-loop teacher runs it) and the carve's summary of per-image scores."""
import numpy as np
import torch
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.model_io import pixels_to_unit, unit_to_model_input
from portrait_mobile.reference.mediapipe import mediapipe_path
from portrait_mobile.train.teacher import load_in_loop_teacher
from portrait_mobile.train.trainer import carve_metrics


def member_probabilities(member: str, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """N x H x W float32 person probabilities of `member` on cached uint8 images."""
    if member == "mediapipe":  # flip-averaged and squashed, exactly the in-loop teacher's map
        predict = load_in_loop_teacher(str(mediapipe_path()), torch.device("cpu")).predict
    else:
        model = Checkpoint.load(member).build().eval()
        contract = model.contract()

        def predict(u):
            return model(unit_to_model_input(u, contract).contiguous(memory_format=torch.channels_last))
    out = []
    for s in range(0, len(images), batch):
        with torch.no_grad():
            out.append(predict(pixels_to_unit(torch.from_numpy(images[s:s + batch])))[:, 0].float().numpy())
    return np.concatenate(out)


def per_source(metrics: dict) -> dict:
    """fg IoU by source, rounded, from `carve_metrics` / `validate` figures."""
    return {k.split("/", 1)[1]: round(v, 2) for k, v in metrics.items() if k.startswith("val_fg_iou/")}


def summary(acc, sources) -> tuple:
    """(carve score, fg IoU by source) of per-image scores taken in `sources`' order."""
    m = carve_metrics(acc, sources)
    return m["val_score"], per_source(m)
