"""Measurement: what a BOS token changes for the demo model (SmolLM2 takes none by default).

Run after `make demo` (it reads the demo dataset and the L = 32 targets). For each target, the
NWP cross-entropy of its next word and its NWP GXI word scores, with and without a BOS token at
the start of the sequence (``models.<name>.bos``); prints

    bos: ce_without=<mean> ce_with=<mean> spearman_median=<..> spearman_min=<..> top1_same=<..>

BA r with BOS would need the features and encodings refit; it is not measured here.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from scipy import stats

from brainattr.attribution.core import next_word_cross_entropy
from brainattr.attribution.nwp import nwp_inputs, nwp_word_scores
from brainattr.config import load_config
from brainattr.dataset import read_dataset
from brainattr.models import load_model
from brainattr.targets import read_targets

DEMO = "results/demo/smollm2-135m/ctx32/gxi/attribution/targets.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=DEMO)
    parser.add_argument("--n", type=int, default=64, help="targets measured")
    args = parser.parse_args()
    cfg = load_config("config/config.yaml", "workflow/schemas/config.schema.yaml")
    spec = cfg["models"]["smollm2-135m"]
    plain = load_model(spec, "cpu")
    bos_id = plain.tokenizer.bos_token_id
    with_bos = dataclasses.replace(plain, bos_id=bos_id, _cache={})
    words = read_dataset("resources/demo").words["word"].tolist()
    targets = read_targets(args.targets)[: args.n]
    ce = {False: [], True: []}
    rho, top = [], []
    for t in targets:
        scores = {}
        for bos, lm in ((False, plain), (True, with_bos)):
            ids, tw = nwp_inputs(lm, words, t)
            with torch.no_grad():
                logits = lm.model(inputs_embeds=lm.embed(ids)[None]).logits[0]
            ce[bos].append(float(next_word_cross_entropy(logits, ids, tw, t.next_word)))
            scores[bos] = nwp_word_scores(lm, words, t, "gxi")[0]
        rho.append(stats.spearmanr(scores[False], scores[True]).statistic)
        top.append(np.argmax(np.abs(scores[False])) == np.argmax(np.abs(scores[True])))
    print(
        f"bos: token={plain.tokenizer.convert_ids_to_tokens(bos_id)!r} targets={len(targets)} "
        f"ce_without={np.mean(ce[False]):.3f} ce_with={np.mean(ce[True]):.3f} "
        f"spearman_median={np.median(rho):.3f} spearman_min={np.min(rho):.3f} "
        f"top1_same={np.mean(top):.3f}"
    )


if __name__ == "__main__":
    main()
