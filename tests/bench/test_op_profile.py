"""portrait_bench.op_profile: LiteRT's profile summary parsed, and a real model profiled in a child process."""
from __future__ import annotations

from pathlib import Path

from portrait_bench.op_profile import parse_summary, profile_ops


SUMMARY = """\
============================== Run Order ==============================
                     [node type]  [start]  [first] [avg ms]     [%]   [cdf%]  [mem KB] [times called]  [Name]
 Delegate/Convolution (NHWC, F32) IGEMM    0.000    0.156    0.166   6.897%   6.897%     0.000        10  [Delegate]:0
                 AVERAGE_POOL_2D    0.000    0.122    0.123   5.120%  12.017%     0.000        10  [Builtin]:52

========================== Top by Computation Time ====================
"""


def test_parse_profile_summary() -> None:
    rows = parse_summary(SUMMARY)
    assert [(r.index, r.node_type, r.avg_ms) for r in rows] == [
        (0, "Delegate/Convolution (NHWC, F32) IGEMM", 0.166),
        (52, "AVERAGE_POOL_2D", 0.123),
    ]


def test_op_profile_of_a_real_model(tiny_models: dict[str, Path]) -> None:
    prof = profile_ops(tiny_models["good"], threads=1, mode="builtin", runs=3, warmup=1)
    assert prof.rows and prof.total_ms > 0
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "RESIZE_BILINEAR"} <= {r.node_type for r in prof.rows}
    assert any(r.layer for r in prof.rows)  # builtin rows map to layers
