"""transformers as the oracle for crucible's transformer (tests/model/test_hf_parity.cpp).

  make OUT      random small Llama (Llama-3 rope scaling), Qwen2, Qwen3 and Mistral configs, saved with
                save_pretrained (fp32 single file; the Qwen2 one sharded; extra bf16/f16 copies of Llama), each with
                OUT/<name>/oracle.safetensors holding input_ids [2, T] and transformers' fp32 logits [2, T, V].
  check DIR ORACLE   loads DIR (a folder crucible saved) with transformers, recomputes the logits on ORACLE's
                input_ids and exits 1 unless max |diff| <= 1e-4.
"""
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file

T = 13


def configs():
    common = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=97, max_position_embeddings=256, rms_norm_eps=1e-5)
    return {
        "llama": transformers.LlamaConfig(**common, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64}, rope_theta=500000.0),
        "llama_tied": transformers.LlamaConfig(**common, tie_word_embeddings=True),
        "qwen2": transformers.Qwen2Config(**common, rope_theta=1000000.0),
        "qwen3": transformers.Qwen3Config(**common, head_dim=32, rope_theta=1000000.0),
        "mistral": transformers.MistralConfig(**common, sliding_window=None),
    }


def model_for(config):
    torch.manual_seed(1234)
    m = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    with torch.no_grad():  # default init leaves norms at 1 and biases at 0: perturb them so they are tested too
        for name, p in m.named_parameters():
            if "norm" in name or name.endswith(".bias"):
                p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def make(out):
    g = torch.Generator().manual_seed(7)
    for name, config in configs().items():
        config._attn_implementation = "eager"
        m = model_for(config)
        ids = torch.randint(0, config.vocab_size, (2, T), generator=g)
        kwargs = {"max_shard_size": "20KB"} if name == "qwen2" else {}
        m.save_pretrained(f"{out}/{name}", safe_serialization=True, **kwargs)
        save_file({"input_ids": ids, "logits": logits_of(m, ids).contiguous()}, f"{out}/{name}/oracle.safetensors")
        if name == "llama":
            for dt, tag in ((torch.bfloat16, "bf16"), (torch.float16, "f16")):
                m16 = model_for(config).to(dt)
                m16.save_pretrained(f"{out}/{name}_{tag}", safe_serialization=True)
                # The oracle for a half-precision checkpoint: the same rounded weights, computed in fp32.
                m32 = m16.to(torch.float32)
                save_file({"input_ids": ids, "logits": logits_of(m32, ids).contiguous()},
                          f"{out}/{name}_{tag}/oracle.safetensors")


def check(folder, oracle):
    o = load_file(oracle)
    m = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    diff = (logits_of(m, o["input_ids"]) - o["logits"]).abs().max().item()
    print(f"max_abs_diff {diff:.3g}")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
