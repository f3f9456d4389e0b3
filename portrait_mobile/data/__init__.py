"""Datasets: folders of images + masks, a pre-resized training cache, batched augmentation."""
from .folder import PortraitFolder, Sample, read_image_rgb, read_mask

__all__ = ["PortraitFolder", "Sample", "read_image_rgb", "read_mask"]
