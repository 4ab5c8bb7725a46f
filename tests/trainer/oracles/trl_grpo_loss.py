"""TRL 1.16's own GRPO code as the oracle for trainer/grpo_loss (tests/trainer/test_grpo_loss.cpp).

  make OUT.json   random float64 cases; for each, TRL computes what crucible must reproduce:
    loss      GRPOTrainer._compute_loss, called unbound on a minimal object carrying the attributes it reads (its
              per-token logprobs / entropies come from the case instead of a model forward), once per micro-batch of
              an optimizer step of 3 micro-batches with unequal token counts; the loss of each, the gradient of the
              sum of their backward()s wrt every micro-batch's per-token logprobs, and the metrics TRL logs.
    advantages  the reward-normalisation block of GRPOTrainer._generate_and_score_completions, executed from TRL's
              source text (inspect.getsource), for scale_rewards group / batch / none.
    is_ratio  the sampler/trainer importance-sampling block of the same method, executed likewise, for every mode.
The arithmetic is TRL's throughout: nothing here re-implements a formula.
"""
import inspect
import json
import math
import sys
import textwrap
import types
from collections import defaultdict

import torch
import trl
from trl.trainer import grpo_trainer
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import nanstd

assert trl.__version__ == "1.16.0", trl.__version__
torch.manual_seed(1234)
DT = torch.float64
B = 4            # sequences per micro-batch (equal across micro-batches, as TRL's are)
GA = 3           # micro-batches per optimizer step
MAX_LEN = 12     # max completion tokens (dr_grpo's normaliser)


class Accelerator:  # one process: every collective is the identity
    num_processes = 1

    def pad_across_processes(self, x, dim=0, pad_index=0):
        return x

    def gather(self, x):
        return x.reshape(-1) if x.dim() == 0 else x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def trainer_object(cfg, use_is):
    """The attributes _compute_loss reads, as GRPOTrainer.__init__ sets them from a GRPOConfig."""
    o = types.SimpleNamespace()
    o.args = types.SimpleNamespace(use_bias_correction_kl=False, delta=cfg.get("delta"), sapo_temperature_pos=1.0,
                                   sapo_temperature_neg=1.05, steps_per_generation=GA)
    o.accelerator = Accelerator()
    o.model = types.SimpleNamespace(training=True)
    o.top_entropy_quantile = cfg["top_entropy_quantile"]
    o.off_policy_mask_threshold = None
    o.importance_sampling_level = cfg["importance_level"]
    o.beta = cfg["beta"]
    o.loss_type = cfg["loss_type"]
    o.epsilon_low = cfg["epsilon_low"]
    o.epsilon_high = cfg["epsilon_high"]
    o.use_vllm = use_is
    o.vllm_importance_sampling_correction = use_is
    o.current_gradient_accumulation_steps = GA
    o.max_completion_length = MAX_LEN
    o._entropy_bonus_enabled = False
    o.aux_loss_enabled = False
    o._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    o.get_high_entropy_mask = types.MethodType(GRPOTrainer.get_high_entropy_mask, o)
    return o


def source_block(method, start, end):
    """The lines of `method`'s source from the line containing `start` up to (not including) the one containing `end`."""
    lines = inspect.getsource(method).splitlines()
    i = next(k for k, l in enumerate(lines) if start in l)
    j = next(k for k in range(i + 1, len(lines)) if end in lines[k])
    return compile(textwrap.dedent("\n".join(lines[i:j])), f"<trl {method.__name__} block>", "exec")


IS_BLOCK = source_block(GRPOTrainer._generate_and_score_completions,
                        "if self.use_vllm and self.vllm_importance_sampling_correction:",
                        "# Compute the per-token log probabilities for the reference model")
ADV_BLOCK = source_block(GRPOTrainer._generate_and_score_completions,
                         'if self.multi_objective_aggregation == "sum_then_normalize":',
                         'elif self.multi_objective_aggregation == "normalize_then_sum":')


def trl_is_ratio(old, sampler, mask, mode, clip_min, clip_max):
    self = types.SimpleNamespace(use_vllm=True, vllm_importance_sampling_correction=True,
                                 vllm_importance_sampling_mode=mode, vllm_importance_sampling_clip_min=clip_min,
                                 vllm_importance_sampling_clip_max=clip_max)
    env = {"self": self, "torch": torch, "math": math, "completion_mask": mask, "tool_mask": None,
           "old_per_token_logps": old, "sampling_per_token_logps": sampler}
    exec(IS_BLOCK, grpo_trainer.__dict__.copy(), env)
    return env["vllm_importance_sampling_ratio"]


def trl_advantages(rewards, group_size, scale):
    self = types.SimpleNamespace(multi_objective_aggregation="sum_then_normalize", scale_rewards=scale,
                                 reward_weights=torch.ones(1, dtype=DT))
    rewards_per_func = rewards.unsqueeze(1)
    env = {"self": self, "torch": torch, "nanstd": nanstd, "rewards_per_func": rewards_per_func, "device": "cpu",
           "unscorable_mask": torch.isnan(rewards_per_func).all(dim=1), "num_generations": group_size}
    exec(ADV_BLOCK, grpo_trainer.__dict__.copy(), env)
    return env["advantages"], env["is_std_zero"]


def micro_batch(T, truncated_row, mu):
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T  # the padded length is reached
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.int64)
    if truncated_row:
        mask[1] = 0  # a truncated sample under --mask-truncated: no token trains
    logp = -torch.rand(B, T, dtype=DT) * 3 - 0.01
    # mu > 1: the policy moved since sampling, far enough that ratios leave [1 - eps, 1 + eps]
    old = logp + torch.randn(B, T, dtype=DT) * 0.3 if mu > 1 else None
    ref = logp + torch.randn(B, T, dtype=DT) * 0.2
    sampler = (old if old is not None else logp) + torch.randn(B, T, dtype=DT) * 0.05
    entropy = torch.rand(B, T, dtype=DT) * 4
    adv = torch.randn(B, dtype=DT)
    adv[2] = 0.0
    return dict(mask=mask, logp=logp, old=old, ref=ref, sampler=sampler, entropy=entropy, adv=adv)


def t2l(t):
    return None if t is None else t.tolist()


def loss_case(cfg):
    use_is = cfg.get("is_mode") is not None
    o = trainer_object(cfg, use_is)
    lengths_T = [MAX_LEN, 7, 10]  # unequal padded lengths and token counts per micro-batch
    mbs = [micro_batch(T, truncated_row=(k == 1), mu=cfg["mu"]) for k, T in enumerate(lengths_T)]
    num_items = sum(int(m["mask"].sum()) for m in mbs)
    out = {"config": cfg, "step_sequences": B * GA, "step_tokens": num_items, "micro_batches": []}
    for m in mbs:
        logp = m["logp"].clone().requires_grad_(True)
        T = logp.size(1)
        inputs = {"prompt_ids": torch.zeros(B, 2, dtype=torch.int64), "prompt_mask": torch.ones(B, 2, dtype=torch.int64),
                  "completion_ids": torch.zeros(B, T, dtype=torch.int64), "completion_mask": m["mask"],
                  "advantages": m["adv"], "num_items_in_batch": torch.tensor(num_items),
                  "ref_per_token_logps": m["ref"]}
        if m["old"] is not None:
            inputs["old_per_token_logps"] = m["old"]
        is_ratio = None
        if use_is:
            old_for_is = m["old"] if m["old"] is not None else m["logp"]
            is_ratio = trl_is_ratio(old_for_is, m["sampler"], m["mask"], cfg["is_mode"], cfg.get("is_min"),
                                    cfg["is_max"])
            inputs["importance_sampling_ratio"] = is_ratio
        o._get_per_token_logps_and_entropies = lambda *a, _l=logp, _e=m["entropy"], **k: (_l, _e, None)
        o._metrics["train"].clear()
        loss = GRPOTrainer._compute_loss(o, None, inputs)
        loss.backward()
        metrics = {k: v[-1] for k, v in o._metrics["train"].items()}
        out["micro_batches"].append({
            "mask": t2l(m["mask"]), "logp": t2l(m["logp"]), "old": t2l(m["old"]), "ref": t2l(m["ref"]),
            "entropy": t2l(m["entropy"]), "adv": t2l(m["adv"]), "sampler": t2l(m["sampler"]),
            "loss": loss.item(), "grad": t2l(logp.grad), "metrics": metrics})
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "make":
        sys.exit(__doc__)
    cases = []
    base = {"epsilon_low": 0.2, "epsilon_high": 0.28, "top_entropy_quantile": 1.0}
    for loss_type in ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo"]:
        for level in ["token", "sequence"]:
            for beta in [0.0, 0.04]:
                for mu in [1, 2]:
                    cfg = dict(base, loss_type=loss_type, importance_level=level, beta=beta, mu=mu)
                    if loss_type == "cispo":
                        cfg["epsilon_high"] = 1.3  # cispo's cap on the ratio itself (TRL suggests ~5; 1.3 bites here)
                    cases.append(cfg)
    extra = [
        dict(base, loss_type="grpo", importance_level="token", beta=0.0, mu=2, delta=1.25),
        dict(base, loss_type="dapo", importance_level="token", beta=0.04, mu=2, delta=1.25),
        dict(base, loss_type="dapo", importance_level="token", beta=0.0, mu=2, top_entropy_quantile=0.2),
        dict(base, loss_type="grpo", importance_level="sequence", beta=0.04, mu=2, top_entropy_quantile=0.5),
    ]
    for mode, lo in [("token_truncate", None), ("token_mask", 0.9), ("sequence_truncate", 0.5),
                     ("sequence_mask", None)]:
        extra.append(dict(base, loss_type="dapo", importance_level="token", beta=0.0, mu=1, is_mode=mode, is_min=lo,
                          is_max=1.05))
        extra.append(dict(base, loss_type="grpo", importance_level="sequence", beta=0.04, mu=2, is_mode=mode,
                          is_min=lo, is_max=1.05))
    cases += extra
    losses = [loss_case(c) for c in cases]

    advantages = []
    for scale in ["group", "batch", "none"]:
        for G in [4, 1] if scale == "batch" else [4]:
            r = torch.randint(0, 3, (12,), dtype=DT) / 2
            r[0:4] = 1.0 if G == 4 else r[0:4]  # one group with equal rewards: zero std, zero advantage
            a, z = trl_advantages(r, G, scale)
            advantages.append({"scale": scale, "group_size": G, "rewards": t2l(r), "advantages": t2l(a),
                               "std_zero": t2l(z)})
    is_ratios = []
    for mode, lo in [("token_truncate", None), ("token_mask", 0.9), ("sequence_truncate", 0.5),
                     ("sequence_mask", None), ("token_truncate", 0.95)]:
        mask = (torch.rand(3, 6) < 0.8).to(torch.int64)
        old = -torch.rand(3, 6, dtype=DT) * 3
        sampler = old + torch.randn(3, 6, dtype=DT) * 0.1
        sampler[0, 0] = float("nan")  # a token the sampler could not score
        ratio = trl_is_ratio(old, sampler, mask, mode, lo, 1.05)
        is_ratios.append({"mode": mode, "min": lo, "max": 1.05, "mask": t2l(mask), "old": t2l(old),
                          "sampler": [[None if math.isnan(x) else x for x in row] for row in sampler.tolist()],
                          "ratio": t2l(ratio)})
    with open(sys.argv[2], "w") as f:
        json.dump({"trl": trl.__version__, "dtype": "float64", "losses": losses, "advantages": advantages,
                   "is_ratios": is_ratios}, f)
    print(f"{len(losses)} loss cases, {len(advantages)} advantage cases, {len(is_ratios)} ratio cases")


if __name__ == "__main__":
    main()
