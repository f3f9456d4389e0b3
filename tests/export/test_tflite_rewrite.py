"""pack_shared: equal numeric vectors are written once and the model reads back the same."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from portrait_export.tflite_rewrite import pack_shared  # noqa: E402
from portrait_mobile.tflite_graph import check_tflite, read_tflite  # noqa: E402
from support.tflite_graphs import GraphBuilder, repacked_plain, run_tflite  # noqa: E402


def test_equal_constants_are_stored_once_and_compute_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    same, other = rng.normal(size=(1, 32, 32, 4)).astype(np.float32), rng.normal(size=(1, 32, 32, 4))
    gb = GraphBuilder()
    x = gb.tensor((1, 32, 32, 4), name="input")
    a, b, y = gb.tensor((1, 32, 32, 4)), gb.tensor((1, 32, 32, 4)), gb.tensor((1, 32, 32, 4), name="output")
    gb.op("ADD", [x, gb.tensor((1, 32, 32, 4), same)], [a], gb.options("AddOptions"))
    gb.op("MUL", [a, gb.tensor((1, 32, 32, 4), same.copy())], [b], gb.options("MulOptions"))
    gb.op("SUB", [b, gb.tensor((1, 32, 32, 4), other.astype(np.float32))], [y], gb.options("SubOptions"))
    plain = gb.save(tmp_path / "plain.tflite", [x], [y]).read_bytes()

    from ai_edge_litert import schema_py_generated as s
    shared = pack_shared(s.ModelT.InitFromPackedBuf(plain, 0))
    # One of the two equal 16 KiB constants is gone; the other constant is not merged into them.
    assert len(plain) - len(shared) >= same.nbytes
    assert len(plain) - len(shared) < 2 * same.nbytes
    check_tflite(shared)
    g = read_tflite(shared)
    assert len(g.tensors) == len(read_tflite(plain).tensors)
    inp = rng.normal(size=(1, 32, 32, 4)).astype(np.float32)
    np.testing.assert_array_equal(run_tflite(shared, inp), run_tflite(plain, inp))
    np.testing.assert_allclose(run_tflite(shared, inp), (inp + same) * same - other, rtol=1e-5, atol=1e-5)
    # Packing again is stable: the object form of the shared file packs to the same bytes.
    assert pack_shared(s.ModelT.InitFromPackedBuf(shared, 0)) == shared
    # A plain builder writes the shared file's vectors out again, as large as the original.
    assert len(repacked_plain(shared)) == len(plain)
