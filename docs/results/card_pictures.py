"""Draw the model card's failure pictures with the CLI, and record which they are in card_pictures.json.

Takes the packaged int8 model's lowest-fg-IoU PFCN test images from the recorded evaluation
(pfcn_test.json), writes a small copy of each photo and its ground truth to docs/model_card/, and runs
`portrait-segment --effect mask --threshold 0.5` on the copy (the binary mask the metrics score).
The card quotes each image's scores from pfcn_test.json itself. Run by docs/results/refresh.sh.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path

import cv2

from portrait_mobile.atomic import write_text
from portrait_mobile.data.folder import PortraitFolder
from portrait_mobile.paths import find_shared

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = Path("docs/model_card")  # relative to the repository root, as the card links it
WIDTH = 240  # small: a few KB each, enough to see the failure
N_WORST = 3


def worst_ids(evals: dict, n: int) -> list[str]:
    rows = [r for r in evals["results"] if r["model"].endswith("_int8.tflite")]
    if not rows or not rows[0].get("per_image"):
        raise SystemExit("card_pictures: pfcn_test.json has no per-image scores of an int8 .tflite")
    return [s["id"] for s in sorted(rows[0]["per_image"], key=lambda s: s["fg_iou"])[:n]]


def draw(ids: list[str], datasets: Path, out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("pfcn-*.jpg")) + list(out.glob("pfcn-*.png")):
        old.unlink()  # pictures of an earlier model's worst images
    folder = PortraitFolder(datasets / "pfcn", "test")
    pictures = []
    for sid in ids:
        s = folder[folder.ids.index(sid)]
        h, w = s.image.shape[:2]
        size = (WIDTH, round(h * WIDTH / w))
        photo, truth = out / f"pfcn-{sid}.jpg", out / f"pfcn-{sid}_truth.png"
        cv2.imwrite(str(photo), cv2.cvtColor(cv2.resize(s.image, size, interpolation=cv2.INTER_AREA),
                                            cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        cv2.imwrite(str(truth), cv2.resize(s.mask, size, interpolation=cv2.INTER_NEAREST))
        cmd = ["portrait-segment", str(photo), "--effect", "mask", "--threshold", "0.5", "--out", str(out), "-q"]
        subprocess.run(cmd, check=True, cwd=REPO)
        mask = out / f"pfcn-{sid}_mask.png"
        if not (REPO / mask).is_file():
            raise SystemExit(f"card_pictures: {' '.join(cmd)} wrote no {mask}")
        pictures.append({"id": sid, "photo": str(photo), "truth": str(truth), "mask": str(mask),
                         "command": shlex.join(cmd[:-1])})
    return pictures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=None)
    a = ap.parse_args()
    evals = json.loads((HERE / "pfcn_test.json").read_text())
    pictures = draw(worst_ids(evals, N_WORST), find_shared("datasets", a.datasets), OUT)
    write_text(HERE / "card_pictures.json", json.dumps({"set": "pfcn/test", "pictures": pictures}, indent=1) + "\n")
    print(f"card_pictures: drew {len(pictures)} pictures in {OUT}")


if __name__ == "__main__":
    main()
