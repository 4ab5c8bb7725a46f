"""transformers as the oracle for the engine's per-token logprobs (tests/model/test_logprobs.cpp).

  make OUT          random small Qwen2 (q/k/v bias, GQA 3:1), Qwen3 (q/k norm, head_dim != hidden/heads) and Llama-3
                    (llama3 rope scaling, tied embeddings, MHA) configs, shapes not used by the other oracles, saved
                    with save_pretrained (fp32) under OUT/<name>.
  check CASES.json  CASES.json: [{"model": folder or .gguf, "prompt": [ids], "tokens": [ids], "logprobs": [...],
                    "sampling_logprobs": [...], "top": [[[id, logprob], ...], ...], "prompt_logprobs": [...],
                    "prompt_top": [...], "temperature", "top_k", "top_p"}]. For each case, transformers' fp32 logits over
                    prompt + tokens give log_softmax; every engine logprob (generated and prompt tokens) must be within
                    1e-4 of it, every top-N set must be transformers' top-N (ids equal but for ties within 1e-4, values
                    within 1e-4), and every sampling logprob within 1e-4 of log_softmax over the filtered, tempered
                    logits. Prints the largest differences; exit status 1 on any mismatch.
"""
import json
import os
import sys

import torch
import transformers

TOL = 1e-4


def configs():
    return {
        "qwen2": transformers.Qwen2Config(hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                                          num_attention_heads=6, num_key_value_heads=2, vocab_size=211,
                                          max_position_embeddings=512, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                          tie_word_embeddings=False),
        "qwen3": transformers.Qwen3Config(hidden_size=80, intermediate_size=144, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, head_dim=24, vocab_size=173,
                                          max_position_embeddings=512, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                          tie_word_embeddings=True),
        "llama3": transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                           num_attention_heads=4, num_key_value_heads=4, vocab_size=199,
                                           max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True,
                                           rope_theta=500000.0, rope_scaling={
                                               "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                               "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
    }


def make(out):
    for i, (name, config) in enumerate(configs().items()):
        torch.manual_seed(4321 + i)
        config._attn_implementation = "eager"
        m = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        with torch.no_grad():  # wider logits than the default init, so distributions are not near-uniform
            for pname, p in m.named_parameters():
                if "norm" in pname or pname.endswith(".bias"):
                    p.add_(0.1 * torch.randn_like(p))
                elif "embed" in pname or "lm_head" in pname:
                    p.mul_(8.0)
        m.save_pretrained(f"{out}/{name}", safe_serialization=True)


_models = {}


def load(path):
    if path not in _models:
        if path.endswith(".gguf"):
            d, f = os.path.split(os.path.abspath(path))
            m = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
        else:
            m = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        _models[path] = m.eval()
    return _models[path]


def sampling_logprobs(row, tok, c):
    """log p(tok) under transformers' warpers: temperature, top-k, top-p, as the engine applies them."""
    x = row / c["temperature"]
    if c["top_k"] > 0:
        kth = torch.topk(x, c["top_k"]).values[-1]
        x = x.masked_fill(x < kth, -float("inf"))
    if c["top_p"] < 1.0:
        sorted_x, idx = torch.sort(x, descending=False)
        cum = sorted_x.softmax(-1).cumsum(-1)
        remove = cum <= (1 - c["top_p"])
        remove[-1] = False
        x = x.masked_fill(remove.scatter(0, idx, remove), -float("inf"))
    return torch.log_softmax(x, -1)[tok].item()


def check(cases_path):
    with open(cases_path) as f:
        cases = json.load(f)
    torch.set_num_threads(2)
    worst = {"logprob": 0.0, "top": 0.0, "prompt": 0.0, "sampling": 0.0}
    bad = 0

    def top_ok(got, lp_row, where):
        nonlocal bad
        n = len(got)
        want_v, want_i = torch.topk(lp_row, n)
        for r, (gid, glp) in enumerate(got):
            d = abs(glp - lp_row[gid].item())
            worst["top"] = max(worst["top"], d)
            # Same set, same order, but a swap between two values within the tolerance is a tie, not an error.
            if d > TOL or abs(glp - want_v[r].item()) > TOL:
                bad += 1
                print(f"{where} top-{n} rank {r}: engine ({gid}, {glp:.6f}) vs transformers "
                      f"({want_i[r].item()}, {want_v[r].item():.6f})")

    for ci, c in enumerate(cases):
        model = load(c["model"])
        ids = torch.tensor([c["prompt"] + c["tokens"]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float()
        lp = torch.log_softmax(logits, -1)
        P = len(c["prompt"])
        name = f"case {ci} ({os.path.basename(c['model'])})"
        for t, tok in enumerate(c["tokens"]):
            row = P - 1 + t
            d = abs(c["logprobs"][t] - lp[row, tok].item())
            worst["logprob"] = max(worst["logprob"], d)
            if d > TOL:
                bad += 1
                print(f"{name} token {t}: engine {c['logprobs'][t]:.6f} vs transformers {lp[row, tok].item():.6f}")
            top_ok(c["top"][t], lp[row], f"{name} token {t}")
            if c["temperature"] > 0:
                want = sampling_logprobs(logits[row], tok, c)
                d = abs(c["sampling_logprobs"][t] - want)
                worst["sampling"] = max(worst["sampling"], d)
                if d > TOL:
                    bad += 1
                    print(f"{name} token {t}: sampling logprob {c['sampling_logprobs'][t]:.6f} vs {want:.6f}")
            elif c["sampling_logprobs"][t] != 0:
                bad += 1
                print(f"{name} token {t}: greedy sampling logprob {c['sampling_logprobs'][t]} != 0")
        for t, got in enumerate(c.get("prompt_logprobs", [])):
            d = abs(got - lp[t, c["prompt"][t + 1]].item())
            worst["prompt"] = max(worst["prompt"], d)
            if d > TOL:
                bad += 1
                print(f"{name} prompt token {t + 1}: engine {got:.6f} vs transformers {lp[t, c['prompt'][t + 1]]:.6f}")
            top_ok(c["prompt_top"][t], lp[t], f"{name} prompt token {t + 1}")
    print(f"{len(cases)} cases, max |diff|: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()) +
          f"; {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
