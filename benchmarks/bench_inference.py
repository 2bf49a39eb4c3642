"""Benchmark: calibration of the dependence-aware test against the paper's t-test.

Run with `make bench`. Simulated nulls with the project's dependence structure
(:func:`brainattr.inference.simulate_paired_null`: targets whose spans overlap, one NWP value
shared by every subject's BA context) go through the project's own test functions; prints

    calibration: type1=<block test> type1_paper=<paper's t-test> power=<block> ...

for several numbers of targets, span lengths and block lengths (in spans), at alpha = 0.05.
"""

from __future__ import annotations

import argparse

from brainattr.inference import calibration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulated nulls per setting")
    parser.add_argument("--effect", type=float, default=0.3, help="planted BA - NWP (power)")
    args = parser.parse_args()
    settings = [(200, 12, 1), (200, 12, 2), (200, 12, 3), (600, 24, 3), (1200, 40, 3)]
    for n_targets, span, spans in settings:
        null = calibration(args.sims, n_targets, 8, span, spans, seed=1)
        power = calibration(args.sims // 2, n_targets, 8, span, spans, effect=args.effect, seed=2)
        print(
            f"calibration: type1={null['block']:.3f} type1_paper={null['paper']:.3f} "
            f"power={power['block']:.3f} power_paper={power['paper']:.3f} "
            f"(targets={n_targets}, span={span} TRs, blocks={spans} spans, "
            f"effect={args.effect}, sims={args.sims})"
        )


if __name__ == "__main__":
    main()
