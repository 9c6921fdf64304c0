"""Classify images with a checkpoint: `python src/predict.py CKPT IMAGE_OR_FOLDER... [--json]`.

Top-k class names and probabilities per image; no data root needed (the names travel in the
checkpoint). A thin command line around `alexnet.prediction.predict`.
"""

from __future__ import annotations

import argparse
import json
import sys

from alexnet.checkpoint import CheckpointError
from alexnet.data.sources import DataError
from alexnet.prediction import predict, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint written by src/train.py")
    parser.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--ten-crop", action="store_true",
                        help="average the softmax over §4.1's ten crops")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        predictions = predict(args.checkpoint, args.images, top_k=args.top_k,
                              ten_crops=args.ten_crop, device=args.device)
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(predictions, indent=2) if args.json else table(predictions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
