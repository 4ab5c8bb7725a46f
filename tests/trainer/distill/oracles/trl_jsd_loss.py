"""TRL 1.16 DistillationTrainer's loss on given logits: the oracle of tests/trainer/distill/test_losses.cpp.

usage: trl_jsd_loss.py IN.json OUT.json
IN: {"student": [[...V]...T], "teacher": [[...]], "betas": [...], "temperature": t
     [, "mask": [0/1 ...T], "num_items": n]}
OUT: {"losses": [loss for each beta], "grads": [[[...V]...T] for each beta]: d loss / d student logits}

"mask" marks the completion positions in the loss (default all); "num_items" is the step's token count the sum is
divided by (TRL's num_items_in_batch; default: the mean over the unmasked positions).

The trainer computes its loss with trl.trainer.distillation_trainer._chunked_divergence_loss from hidden states and
lm_head weights; with hidden states = the logits and an identity lm_head (H = V, no bias) the projection returns the
logits unchanged, so this runs TRL's own code on exactly the logits the C++ loss sees. float64 throughout.
"""
import json
import sys

import torch
from trl.trainer.distillation_trainer import _chunked_divergence_loss


def main():
    spec = json.load(open(sys.argv[1]))
    s = torch.tensor(spec["student"], dtype=torch.float64).unsqueeze(0).requires_grad_(True)  # (1, T, V)
    t = torch.tensor(spec["teacher"], dtype=torch.float64).unsqueeze(0)
    v = s.shape[-1]
    eye = torch.eye(v, dtype=torch.float64)
    mask = torch.tensor(spec.get("mask", [1] * s.shape[1]), dtype=torch.long).unsqueeze(0)
    losses, grads = [], []
    for beta in spec["betas"]:
        s.grad = None
        loss, _, _ = _chunked_divergence_loss(s, t, eye, eye, mask, beta, num_items_in_batch=spec.get("num_items"),
                                              temperature=spec["temperature"])
        loss.backward()
        losses.append(loss.item())
        grads.append(s.grad[0].tolist())
    json.dump({"losses": losses, "grads": grads}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
