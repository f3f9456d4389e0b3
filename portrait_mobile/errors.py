"""Exception types the library raises; CLIs turn them into one-line messages and exit codes."""


class PortraitError(Exception):
    """Base class of every error portrait-mobile raises on purpose."""


def short_message(e: BaseException, limit: int = 300) -> str:
    """A library's error on one line, cut at `limit` characters (native loaders print pages)."""
    msg = " ".join(str(e).split())
    return (msg[:limit] + "...") if len(msg) > limit else msg


class DatasetError(PortraitError):
    """A dataset folder, split list, image or mask is missing or malformed."""


class CheckpointError(PortraitError):
    """A checkpoint file is missing, unreadable or not a portrait-mobile checkpoint."""


class ImageError(PortraitError, ValueError):
    """An input image is empty, corrupt, or of an unsupported shape/dtype."""


class ModelLoadError(PortraitError):
    """A model artifact is missing, not a model, or cannot run on this platform."""


class ContractError(ModelLoadError, ValueError):
    """A model contract (embedded or sidecar) is malformed; the message names the file and the field."""


class UnsafeNameError(PortraitError, ValueError):
    """A name that becomes a file name (e.g. a checkpoint's config name) is not a plain file-name stem."""


class ExportError(PortraitError):
    """An export failed or its parity gate refused the artifact."""


class BudgetError(PortraitError):
    """A latency/size budget was broken."""
