"""The one export sequence every target runs; a target brings only its converter.

`export_target(ctx, target, precision)`: time it, name the artifact, let the target's converter
(its row's `converter` in portrait_mobile.formats, or `refiner_converter` for an edge refiner's
checkpoint) make the file and its contract, write it to a temp
path (portrait_mobile.atomic), open it through the runtime backend its row names, check what it
holds, measure parity against PyTorch (the context's reference: `parity.Reference`, or
`refiner_parity.TileReference` on contour tiles), judge the figures once (`gate.finalize`,
which refuses a failing artifact: the temp path is removed, nothing is written), run the target's
after-the-gate step, write the sidecar and rename the artifact into place right after it (a failure of
either leaves the previous pair as it was), return the result. Like Ultralytics'
`@try_export`: the timing, writing and checking are the same for every format by construction.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from portrait_mobile.artifact_digest import DIGEST_KEY, artifact_sha256
from portrait_mobile.atomic import atomic_dir, atomic_path, write_bytes
from portrait_mobile.contract import ModelContract
from portrait_mobile.contract_io import sidecar_path
from portrait_mobile.errors import ExportError
from portrait_mobile.formats import EXPORT_FORMATS, resolve
from portrait_mobile.runtime.backends import Backend

from . import gate, parity
from .context import ExportContext, ExportResult, path_size
from .metadata import tool_versions, write_sidecar
from .native_output import quiet

# What the spec check of a written artifact returns: (what it holds, for the report; failures).
SpecCheck = Callable[[Path, "Backend | None"], tuple[dict[str, Any], list[str]]]


@dataclass
class Converted:
    """What a target's converter made, for `export_target` to write, check and record.

    Exactly one of `data` (the file's bytes) and `save` (writes a folder, e.g. an .mlpackage, at the
    path it is given). `check` reads the written artifact back (with the runtime backend that opened
    it, None when numeric parity is skipped). `numeric_skipped`: why numeric parity cannot run here
    (the spec check stands in), None to measure it. The sidecar's "export" records `settings`, the
    size and time, then `facts` and the versions of `tools`. `after_gate(report)` runs once the gate
    passed (saving what is only worth keeping for a good artifact); it may add to the report and facts.
    """

    contract: ModelContract
    check: SpecCheck
    tools: tuple[str, ...]
    data: bytes | None = None
    save: Callable[[Path], None] | None = None
    threads: int | None = None  # the parity run's threads
    numeric_skipped: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    after_gate: Callable[[dict[str, Any]], None] | None = None


def export_target(ctx: ExportContext, target: str, precision: str) -> ExportResult:
    """One artifact of `target` at `precision`, written only if its parity gate passes (else GateError)."""
    fmt = EXPORT_FORMATS[target]
    if precision not in fmt.precisions:
        raise ExportError(f"{target}: precision {precision} is not supported ({', '.join(fmt.precisions)})")
    t0 = time.perf_counter()
    dest = ctx.artifact_path(target, precision)
    converter = fmt.converter_for(ctx.role)
    if converter is None:
        raise ExportError(f"{target}: this format exports no {ctx.role}")
    conv: Converted = resolve(converter)(ctx, precision)
    side = sidecar_path(dest)
    old_side: bytes | None = None
    side_written = False
    try:
        with (atomic_path if conv.save is None else atomic_dir)(dest) as tmp:
            _write(conv, tmp, target)
            backend = None
            if conv.numeric_skipped is None:
                with quiet():  # LiteRT prints an INFO line when it creates the XNNPACK delegate
                    backend = parity.open_artifact(tmp, target, threads=conv.threads)
            spec_checks, spec_failures = conv.check(tmp, backend)
            if backend is None:
                report: dict[str, Any] = {"numeric": conv.numeric_skipped, "n_images": 0}
            else:
                report = ctx.reference.compare(backend, conv.contract, target=target)
            report = gate.finalize(report, target=target, precision=precision, thresholds=ctx.thresholds,
                                   spec_checks=spec_checks, spec_failures=spec_failures)
            # Still before the artifact replaces the old one: if this fails (--save-calibration cannot
            # write), the old artifact stays beside the sidecar that describes it.
            if conv.after_gate is not None:
                conv.after_gate(report)
            size = path_size(tmp)
            digest = artifact_sha256(tmp)  # the runtime refuses the file if its bytes change
            info = {"target": target, "precision": precision, **conv.settings, "size_bytes": size,
                    DIGEST_KEY: digest, "seconds": round(time.perf_counter() - t0, 2), **conv.facts,
                    "tools": tool_versions(*conv.tools)}
            # The sidecar goes in place just before the artifact (renamed as this block ends): if it cannot
            # be written, the old artifact and sidecar stay; if the artifact's rename then fails, the old
            # sidecar is put back below. Never a new artifact beside the old sidecar (the runtime refuses
            # that pair: the digests differ), nor a result saying "not written" of a file that was.
            try:
                old_side = side.read_bytes() if side.is_file() else None
                json_path = write_sidecar(dest, conv.contract, report, info)
            except OSError as e:
                raise ExportError(f"{target} {precision}: cannot write its sidecar {side} ({e.strerror or e}); "
                                  f"nothing written ({dest.name} and its sidecar are as they were)") from None
            side_written = True
    except BaseException:
        if side_written:  # the artifact was not renamed into place: its old sidecar goes back
            with contextlib.suppress(OSError):
                if old_side is None:
                    side.unlink(missing_ok=True)
                else:
                    write_bytes(side, old_side)
        raise
    return ExportResult(target, precision, dest, json_path, conv.contract, report, size, time.perf_counter() - t0)


def _write(conv: Converted, tmp: Path, target: str) -> None:
    """The artifact at `tmp`; ExportError when the converter "succeeded" without writing all of it."""
    if (conv.data is None) == (conv.save is None):
        raise ExportError(f"{target}: the converter must give either the file's bytes or a save function")
    if conv.data is not None:
        tmp.write_bytes(conv.data)
        if not conv.data or path_size(tmp) != len(conv.data):
            raise ExportError(f"{target}: {tmp} was not written completely")
        return
    conv.save(tmp)
    if not tmp.is_dir() or not any(tmp.iterdir()):
        raise ExportError(f"{target}: the converter reported success but wrote nothing at {tmp}")
