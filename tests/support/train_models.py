"""The tiny model config the training tests train, average, grow and score (64x64, a few hundred
parameters): one definition, so that a checkpoint one test writes is the architecture another builds."""
from __future__ import annotations

from portrait_mobile.config import ModelConfig

TINY = ModelConfig(name="tiny-64", widths=(4, 8, 8, 16, 16), decoder_widths=(8, 8, 4), refine_width=4,
                   input_size=(64, 64))
