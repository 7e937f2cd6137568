"""A labelled evaluation set of images that are *not* frontal chest X-rays.

``python -m model_training.non_chest OUT_DIR`` writes the set and prints the counts;
``... --shipped resources/non_chest_check`` re-creates the shipped check set.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from model_training.non_chest.cases import CATEGORIES, write_ood_cases
from model_training.non_chest.shipped import SHIPPED_MAX_SIDE, write_shipped_set


def main(argv: Sequence[str] | None = None) -> int:
    """Write the full set, or the reduced shipped check set, and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", help="output folder (full-size set)")
    parser.add_argument("--limit", type=int, default=None, help="images per category")
    parser.add_argument("--shipped", type=Path, default=None, metavar="FOLDER",
                        help="write the reduced check set with its manifest instead "
                             "(resources/non_chest_check)")
    parser.add_argument("--max-side", type=int, default=SHIPPED_MAX_SIDE,
                        help=f"with --shipped: longest side in px (default {SHIPPED_MAX_SIDE})")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.shipped is None):
        parser.error("give either OUT or --shipped FOLDER")
    if args.shipped is not None:
        if args.limit is not None:
            parser.error("--limit does not apply to --shipped (the shipped set is complete)")
        cases = write_shipped_set(args.shipped, max_side=args.max_side)
        out = args.shipped
    else:
        cases = write_ood_cases(args.out, limit_per_category=args.limit)
        out = args.out
    for category in CATEGORIES:
        chosen = [c for c in cases if c.category == category]
        held = sum(c.held_out for c in chosen)
        print(f"{category:<16} {len(chosen):>4} images ({held} held out)")
    print(f"{'total':<16} {len(cases):>4} images in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
