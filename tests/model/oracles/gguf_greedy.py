"""transformers as the oracle for greedy decoding from a GGUF (tests/model/test_gguf_parity.cpp,
benchmarks/model/bench_generate.py).

  gguf_greedy.py GGUF N_TOKENS OUT.json [N_PROMPTS]
Loads GGUF with transformers (dequantised to float32), applies the tokenizer's chat template to the first N_PROMPTS
(default: all five) user prompts
(add_generation_prompt=True) and greedily generates exactly N_TOKENS (EOS masked until then: min_new_tokens); writes [{"prompt": text, "prompt_ids": [...],
"output_ids": [...], "text": ...}, ...].
"""
import json
import os
import sys

import torch
import transformers

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain photosynthesis in one sentence.",
    "What is 12 times 7?",
    "Give me three tips for learning to code.",
]


def main(gguf, n_tokens, out, n_prompts=len(PROMPTS)):
    d, f = os.path.split(os.path.abspath(gguf))
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    torch.set_num_threads(2)
    results = []
    for p in PROMPTS[:n_prompts]:
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_tokens, do_sample=False,
                                 min_new_tokens=n_tokens, pad_token_id=tok.eos_token_id)
        new = gen[0, ids.shape[1]:].tolist()
        results.append({"prompt": p, "templated": text, "prompt_ids": ids[0].tolist(), "output_ids": new,
                        "text": tok.decode(new, skip_special_tokens=True)})
    with open(out, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *(int(a) for a in sys.argv[4:5]))
