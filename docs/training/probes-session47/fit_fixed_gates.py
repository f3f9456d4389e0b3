"""Session 47 wrapper (run from the repository root): `portrait-train fit` with the pass gates of a
`deep_passes` model held at the values of the checkpoint it starts from (not trained), so the
weight-tied second pass stays open while the shared body learns to serve both passes."""
import sys

from portrait_mobile import model as _model

_init = _model.Encoder.__init__


def _fixed_gates(self, cfg):
    _init(self, cfg)
    for g in self.pass_gates.values():
        g.requires_grad_(False)


_model.Encoder.__init__ = _fixed_gates
from portrait_mobile.train.cli import main  # noqa: E402
sys.exit(main(["fit", *sys.argv[1:]]))
