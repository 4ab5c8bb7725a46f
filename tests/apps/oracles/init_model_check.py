"""transformers as the oracle for `crucible init-model` (tests/apps/test_init_model.cpp).

  init_model_check.py DIR GENERATE_JSON MESSAGE

DIR is a folder `crucible init-model` wrote; GENERATE_JSON what `crucible --json generate --model DIR --chat MESSAGE
--temperature 0 --logprobs` printed. Loads DIR with AutoModelForCausalLM and AutoTokenizer and checks, in float32:
the chat template renders MESSAGE to the ids crucible prompted with (prompt_tokens); the tokenizer round-trips the
task's text with <think> tags as single tokens; and under teacher forcing on crucible's greedy tokens each token's
logprob equals crucible's within 1e-4 and is the argmax (or within 1e-5 of it). Prints one JSON line; exit 1 on a
mismatch.
"""
import json
import sys

import torch
import transformers


def main():
    folder, gen_path, message = sys.argv[1], sys.argv[2], sys.argv[3]
    gen = json.load(open(gen_path))
    sample = gen["samples"][0]
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert type(model).__name__ == "LlamaForCausalLM", type(model).__name__
    prompt_ids = tok.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                         tokenize=True)
    if hasattr(prompt_ids, "keys"):
        prompt_ids = prompt_ids["input_ids"]
    errors = []
    if len(prompt_ids) != sample["prompt_tokens"]:
        errors.append(f"prompt tokens: transformers {len(prompt_ids)}, crucible {sample['prompt_tokens']}")
    text = "<think>\n7+5=12\n12-3=9\n</think>\n\\boxed{9}"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    think = tok.convert_tokens_to_ids("<think>")
    if ids[0] != think or ids.count(think) != 1 or tok.decode(ids) != text:
        errors.append(f"round trip of {text!r}: {ids}")
    tokens = sample["tokens"]
    full = torch.tensor([prompt_ids + tokens])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=full).logits[0].double(), dim=-1)
    worst = 0.0
    for i, (t, lp) in enumerate(zip(tokens, sample["logprobs"])):
        row = logp[len(prompt_ids) + i - 1]
        diff = abs(row[t].item() - lp["logprob"])
        worst = max(worst, diff)
        if diff > 1e-4:
            errors.append(f"token {i}: logprob transformers {row[t].item():.6f}, crucible {lp['logprob']:.6f}")
        if row.max().item() - row[t].item() > 1e-5:
            errors.append(f"token {i}: crucible's greedy token {t} is not transformers' argmax {row.argmax().item()}")
    print(json.dumps({"tokens": len(tokens), "max_logprob_diff": worst, "errors": errors}))
    sys.exit(1 if errors else 0)


main()
