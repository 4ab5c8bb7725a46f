#!/usr/bin/env python3
"""Oracle for the tokenizer differential test: reads JSONL {"text": …} on stdin, writes one JSON id list per line.

  oracle_tokenize.py hf-json PATH      tokenizers.Tokenizer.from_file(PATH), add_special_tokens=False
  oracle_tokenize.py gguf PATH         transformers AutoTokenizer from the GGUF's vocabulary, add_special_tokens=False
  oracle_tokenize.py gguf-starcoder PATH   the same vocabulary with the pre-tokenizer of SmolLM2's own tokenizer.json
                                       (Digits(individual_digits) then ByteLevel), which llama.cpp's "smollm" mirrors;
                                       transformers' GGUF loader drops the digit split (plain GPT-2 ByteLevel).
  oracle_tokenize.py spm PATH          sentencepiece.SentencePieceProcessor(PATH).encode
"""
import json
import os
import sys


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "hf-json":
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(path)
        encode = lambda t: tok.encode(t, add_special_tokens=False).ids
    elif kind in ("gguf", "gguf-starcoder"):
        import logging
        logging.disable(logging.WARNING)
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
        if kind == "gguf-starcoder":
            from tokenizers import pre_tokenizers
            tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Digits(individual_digits=True),
                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        encode = lambda t: tok.encode(t, add_special_tokens=False)
    elif kind == "spm":
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor(model_file=path)
        encode = lambda t: sp.encode(t)
    else:
        sys.exit(f"unknown kind {kind}")
    out = sys.stdout
    for line in sys.stdin.buffer:
        text = json.loads(line)["text"]
        out.write(json.dumps(encode(text)) + "\n")


if __name__ == "__main__":
    main()
