"""TRL 1.16 SFTTrainer as the oracle for `crucible train sft` (tests/trainer/test_sft.cpp).

  make OUT    OUT/model: a random tiny Qwen2 (q/k/v bias, GQA 2:1, untied) with the Llama-3 tokenizer and its chat
              template (../shared/models/tokenizers/llama3), saved fp32; OUT/data.jsonl: conversational
              prompt-completion records (TRL's format) of different lengths, one with a system turn.
  check-saved FOLDER   see check_saved: transformers loads a folder crucible saved, same ids and logits.
  check OUT   OUT/crucible.json: {"examples": [{"ids", "learn"}], "variants": {name: loss}} and OUT/grads-NAME.safetensors
              (crucible's gradients after one accumulated batch of every example, float64). In float64, TRL's
              SFTTrainer (completion_only_loss, max_length as crucible's) tokenises the dataset, its collator pads the
              batch, and compute_loss with num_items_in_batch (counted as Trainer._get_num_items_in_batch does) gives
              the loss; backward gives the gradients. Both models are float64, but TRL 1.16's compute_loss takes
              the log-probs from its fused lm_head path, which works in float32 (its loss comes back with float32's
              digits: measured 2e-8 relative from crucible's float64 loss, gradients 8e-7): so the checks are
              input ids and completion masks identical, each variant's loss within 1e-6 relative and every
              gradient within 1e-5 (max |diff| / max |grad| of the tensor). Exit status 1 on any mismatch.
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import load_file

MAX_LEN = 96
TOKENIZER = os.path.join(os.path.dirname(__file__), "../../../../shared/models/tokenizers/llama3")

RECORDS = [
    {"prompt": [{"role": "user", "content": "What is 2 + 3?"}],
     "completion": [{"role": "assistant", "content": "2 + 3 = 5."}]},
    {"prompt": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a prime."}],
     "completion": [{"role": "assistant", "content": "7"}]},
    {"prompt": [{"role": "user", "content": "Count to five, with words."}],
     "completion": [{"role": "assistant", "content": "One, two, three, four, five. That is five numbers."}]},
    {"prompt": [{"role": "user", "content": "Say hi."}], "completion": [{"role": "assistant", "content": "Hi!"}]},
    # longer than MAX_LEN: truncated from the right, as TRL does
    {"prompt": [{"role": "user", "content": "Repeat 'abc' many times."}],
     "completion": [{"role": "assistant", "content": " ".join(["abc"] * 80)}]},
]


def make(out):
    torch.manual_seed(1234)
    config = transformers.Qwen2Config(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=128256, max_position_embeddings=256,
                                      rope_theta=10000.0, tie_word_embeddings=False)
    m = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    m.save_pretrained(f"{out}/model", safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER, f), f"{out}/model/{f}")
    with open(f"{out}/data.jsonl", "w") as f:
        for r in RECORDS:
            f.write(json.dumps(r) + "\n")


def check(out):
    import datasets
    from trl import SFTConfig, SFTTrainer
    torch.set_num_threads(2)
    c = json.load(open(f"{out}/crucible.json"))
    model = transformers.AutoModelForCausalLM.from_pretrained(f"{out}/model", dtype=torch.float64)
    tok = transformers.AutoTokenizer.from_pretrained(f"{out}/model")
    tok.pad_token = tok.eos_token  # Llama-3 has none; padded positions are masked out of attention and loss anyway
    ds = datasets.load_dataset("json", data_files=f"{out}/data.jsonl", split="train")
    args = SFTConfig(output_dir=f"{out}/trl", max_length=MAX_LEN, completion_only_loss=True, report_to=[],
                     per_device_train_batch_size=len(RECORDS), use_cpu=True, bf16=False, fp16=False)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    bad = []
    if len(rows) != len(c["examples"]):
        bad.append(f"{len(rows)} TRL examples vs {len(c['examples'])} crucible examples")
    for i, (r, e) in enumerate(zip(rows, c["examples"])):
        if r["input_ids"] != e["ids"]:
            bad.append(f"example {i}: input ids differ\n  TRL      {r['input_ids']}\n  crucible {e['ids']}")
        # TRL 1.16 folds the completion mask into the labels (-100 = not learned) when it prepares the dataset.
        mask = r["completion_mask"] if "completion_mask" in r else [int(x != -100) for x in r["labels"]]
        if mask != e["learn"]:
            bad.append(f"example {i}: completion mask differs\n  TRL      {mask}\n  crucible {e['learn']}")
    batch = trainer.data_collator(rows)
    n_items = trainer._get_num_items_in_batch([batch], torch.device("cpu"))
    model.train()
    loss = trainer.compute_loss(model, batch, num_items_in_batch=n_items)
    loss.backward()
    grads = {n: p.grad.detach() for n, p in model.named_parameters()}
    print(f"TRL loss {loss.item():.12f} over {int(n_items)} completion tokens")
    for name, closs in c["variants"].items():
        rel = abs(closs - loss.item()) / abs(loss.item())
        print(f"  {name}: crucible loss {closs:.12f} (rel diff {rel:.2e})", end="")
        if rel > 1e-6:
            bad.append(f"{name}: loss {closs} vs TRL {loss.item()}")
        cg = load_file(f"{out}/grads-{name}.safetensors")
        worst = 0.0
        for n, g in grads.items():
            if n not in cg:
                bad.append(f"{name}: no gradient for {n}")
                continue
            worst = max(worst, ((cg[n] - g).abs().max() / g.abs().max().clamp(min=1e-30)).item())
        print(f", max relative gradient diff {worst:.2e}")
        if worst > 1e-5:
            bad.append(f"{name}: gradients differ by {worst:.2e} (relative to each tensor's largest)")
    for b in bad:
        print("MISMATCH", b)
    sys.exit(1 if bad else 0)


def check_saved(folder):
    """check-saved FOLDER: transformers loads a folder `crucible train sft` wrote, unchanged. FOLDER/../probe.json:
    {"messages": [...], "ids": crucible's rendering + tokenisation, "logits": file of crucible's float32 logits of
    those ids [T, V] from the same folder}. Checks AutoTokenizer's apply_chat_template gives the same ids and the
    logits agree within 2e-5 of the logit scale (max |diff| / max |logit|)."""
    torch.set_num_threads(2)
    probe = json.load(open(os.path.join(folder, "..", "probe.json")))
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tok.apply_chat_template(probe["messages"], tokenize=True, add_generation_prompt=False)
    if not isinstance(ids, list):
        ids = ids["input_ids"]
    bad = []
    if ids != probe["ids"]:
        bad.append(f"chat template ids differ:\n  transformers {ids}\n  crucible     {probe['ids']}")
    with torch.no_grad():
        logits = model(torch.tensor([probe["ids"]])).logits[0]
    theirs = load_file(probe["logits"])["logits"]
    diff = (logits - theirs).abs().max().item()
    scale = logits.abs().max().item()
    # float32 through 30 layers: two GEMM libraries (crucible's training linears are oneDNN's, transformers' MKL's)
    # sum in different orders and part by ~1e-5 of the logit scale; a wrong weight, norm or template is O(1).
    tol = 2e-5 * max(scale, 1.0)
    print(f"{folder}: max |logit diff| {diff:.2e} over {tuple(logits.shape)}, logit scale {scale:.2f}, tolerance {tol:.2e}")
    if diff > tol:
        bad.append(f"logits differ by {diff} (> {tol:.2e})")
    for b in bad:
        print("MISMATCH", b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    {"make": make, "check": check, "check-saved": check_saved}[sys.argv[1]](sys.argv[2])
