"""The teacher run on each augmented batch, and the composites only it can label.

The cache's teacher maps were made on the photos as stored; a teacher run in the loop sees what the
student sees (the swapped background, the zoom-out, the colour changes). On the CPU MediaPipe runs
through LiteRT (XNNPACK, ~3 ms an image on one core); on a GPU through its torch port. Cut-mixed
composites of two photos have no label at all: the teacher's map is their only target, which gives
the student an endless supply of new images to match the teacher on ("function matching", Beyer et
al., "Knowledge distillation: a good teacher is patient and consistent", CVPR 2022).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.augment import Batch
from ..errors import PortraitError

# A composite's pasted box covers this share of the frame (drawn uniformly): large enough that both
# photos' content meets in it, small enough that neither photo vanishes.
CUT_AREA = (0.2, 0.6)


def cut_mix(batch: Batch, share: float, g: torch.Generator | None = None) -> Batch:
    """The first round(share x B) samples (the batch is already in random order) with a box of
    another sample of the batch pasted in; they lose their labels (mask_weight 0), so only a teacher
    run afterwards trains on them."""
    b, _, h, w = batch.image.shape
    k = min(b, round(share * b))
    if k == 0 or b < 2:
        return batch
    dev = batch.image.device
    u = torch.rand(k, 4, generator=g, device=dev)
    area = CUT_AREA[0] + (CUT_AREA[1] - CUT_AREA[0]) * u[:, 0]
    aspect = torch.exp((u[:, 1] - 0.5) * 1.0)  # box width / height in [0.61, 1.65]
    bh = (torch.sqrt(area / aspect) * h).clamp(1, h)
    bw = (torch.sqrt(area * aspect) * w).clamp(1, w)
    y0 = u[:, 2] * (h - bh)
    x0 = u[:, 3] * (w - bw)
    ys = torch.arange(h, device=dev, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, device=dev, dtype=torch.float32)[None, None, :]
    box = ((ys >= y0[:, None, None]) & (ys < (y0 + bh)[:, None, None])
           & (xs >= x0[:, None, None]) & (xs < (x0 + bw)[:, None, None]))[:, None]  # k x 1 x H x W
    # Partner j of sample i: any other sample of the batch.
    partner = (torch.arange(k, device=dev) + 1 + torch.randint(0, b - 1, (k,), generator=g, device=dev)) % b

    def pasted(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.where(box, x[partner], x[:k]), x[k:]])

    unlabelled = torch.cat([torch.zeros(k, device=dev), batch.mask_weight[k:]])
    partial = batch.partial_label
    if partial is not None:
        partial = torch.cat([torch.zeros(k, device=dev, dtype=partial.dtype), partial[k:]])
    return replace(batch, image=pasted(batch.image), mask=pasted(batch.mask), teacher=pasted(batch.teacher),
                   mask_weight=unlabelled, partial_label=partial)


def check_teacher_mix(teacher_mix: float, has_teacher: bool) -> None:
    """PortraitError when composites are asked for with no teacher in the loop to label them."""
    if teacher_mix > 0 and not has_teacher:
        raise PortraitError("--teacher-mix needs --teacher-in-loop: only a teacher in the loop labels the "
                            "composites (add --teacher-in-loop)")


class InLoopTeacher:
    """Teacher probabilities computed on the batch as augmented (what the student sees), after
    replacing `mix_share` of it by cut-mixed composites."""

    def __init__(self, predict: Callable[[torch.Tensor], torch.Tensor], mix_share: float = 0.0) -> None:
        if not 0.0 <= mix_share <= 1.0:
            raise ValueError(f"mix_share must be in [0, 1], got {mix_share}")
        self.predict = predict  # B x 3 x H x W in [0, 1] -> B x 1 x H x W probability
        self.mix_share = mix_share

    @torch.no_grad()
    def __call__(self, batch: Batch, g: torch.Generator | None = None) -> Batch:
        if self.mix_share > 0:
            batch = cut_mix(batch, self.mix_share, g)
        prob = self.predict(batch.image).float().clamp(0, 1)
        return replace(batch, teacher=prob, teacher_weight=torch.ones_like(batch.teacher_weight))


class LiteRTBatch:
    """A .tflite of one-image input run over a torch batch, image by image, through LiteRT: on the CPU
    ~10x faster than the torch port of MediaPipe (XNNPACK kernels)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        from ..reference.mediapipe import MediaPipePredictor

        self.reference = MediaPipePredictor(path, num_threads=threads)  # refuses a file not MediaPipe-shaped
        c = self.reference.contract
        self.input_size = (c.input_height, c.input_width)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f"expected images of {self.input_size}, got {tuple(x.shape[-2:])}")
        nhwc = np.ascontiguousarray(x.detach().float().permute(0, 2, 3, 1).cpu().numpy())
        out = [self.reference.run(img[None])[0, :, :, 0] for img in nhwc]
        return torch.from_numpy(np.stack(out))[:, None].to(x.device)


def load_in_loop_teacher(path: str, device: torch.device, mix_share: float = 0.0) -> InLoopTeacher:
    """MediaPipe's .tflite, flip-averaged, squashed to its input size and back: through LiteRT on the
    CPU, its torch port on a GPU. Full precision even under the training step's autocast: it is a
    target, not a gradient path."""
    from ..reference.mediapipe_torch import MediaPipeTorch, predict_squashed

    model = LiteRTBatch(path) if device.type == "cpu" else MediaPipeTorch.from_tflite(path).to(device).eval()

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, enabled=False):
            return predict_squashed(model, x.float(), flip=True)

    return InLoopTeacher(predict, mix_share)
