"""transformers on a folder crucible saved from a GGUF (tests/model/test_gguf_parity.cpp, GgufSave.*).

  hf_saved_check.py FOLDER CASES.json
CASES.json: {"texts": [{"text": ..., "ids": [...]}], "greedy": [{"prompt", "templated", "prompt_ids", "output_ids"}]}
(texts: crucible's encoding without special tokens; greedy: transformers' own output on the original GGUF).
Loads FOLDER with AutoTokenizer and AutoModelForCausalLM, unchanged, and checks that it tokenises each text as
crucible does, renders and tokenises each chat prompt as transformers did from the GGUF, and decodes the same first
16 greedy tokens. Prints one line per mismatch; exit status 1 if there was any.
"""
import json
import sys

import torch
import transformers


def main(folder, cases_path):
    with open(cases_path) as f:
        cases = json.load(f)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    torch.set_num_threads(2)
    bad = 0
    for c in cases["texts"]:
        got = tok(c["text"], add_special_tokens=False).input_ids
        if got != c["ids"]:
            bad += 1
            print(f"text {c['text']!r}: transformers {got} != crucible {c['ids']}")
    for c in cases["greedy"]:
        text = tok.apply_chat_template([{"role": "user", "content": c["prompt"]}], tokenize=False,
                                       add_generation_prompt=True)
        if text != c["templated"]:
            bad += 1
            print(f"chat template for {c['prompt']!r}: {text!r} != {c['templated']!r}")
        ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
        if ids[0].tolist() != c["prompt_ids"]:
            bad += 1
            print(f"prompt ids for {c['prompt']!r} differ")
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False,
                                 min_new_tokens=16, pad_token_id=tok.eos_token_id)
        new = out[0, ids.shape[1]:].tolist()
        if new != c["output_ids"][:16]:
            bad += 1
            print(f"greedy for {c['prompt']!r}: {new} != {c['output_ids'][:16]}")
    print(f"{len(cases['texts'])} texts, {len(cases['greedy'])} prompts, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
