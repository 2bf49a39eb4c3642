"""Input attribution of brain alignment (BA) and next-word prediction (NWP).

BA target for TR t of subject s, with the ridge of the fold holding t out:
    y_hat_t = sum_d W_d^T e_{t-d} + b,   L_t = mean over ROI voxels of (y_hat_t - y_t)^2,
where e_{t-d} is the pooled state of window W_{t-d}. The gradient reaches every token
embedding of the four windows; token scores are summed per absolute story word.

NWP target for TR t: mean cross-entropy of the tokens of the first word after TR t-1,
given the words from the start of W_{t-4} to the end of TR t-1.

Scores: gradient x input (GXI) summed over the embedding dimension, or Integrated
Gradients with an all-zero baseline (midpoint rule). Distance 0 = last word of TR t-1.

Modules, each importing only those above it: ``core`` (the shared maths), ``nwp`` (NWP
scores), ``per_target`` and ``shared`` (the two BA engines), ``engines`` (the registry),
``stage`` (the workflow stage). This file imports none of them.
"""
