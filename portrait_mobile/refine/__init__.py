"""The learned edge refinement ("accurate" quality): a small tile network run on the coarse mask's
contour at the photo's working resolution (512 on the long side).

Torch-free at import: `config` (the tile geometry and widths) is read by the runtime's band logic
(`portrait_mobile.runtime.band`); `model`, `dataset` and `train` import torch.
"""
