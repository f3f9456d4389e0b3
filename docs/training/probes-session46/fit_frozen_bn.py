"""Session 46 wrapper (run from the repository root): `portrait-train fit` with every batch-norm layer kept in eval mode (running
statistics frozen at the init's, normalisation as deployed), the affine parameters still trained."""
import sys
from torch.nn.modules.batchnorm import _BatchNorm

_train = _BatchNorm.train


def _frozen(self, mode=True):
    return _train(self, False)


_BatchNorm.train = _frozen
from portrait_mobile.train.cli import main  # noqa: E402
sys.exit(main(["fit", *sys.argv[1:]]))
