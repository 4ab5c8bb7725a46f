"""gguf-py as the oracle for crucible's GGUF dequantisation (tests/model/test_gguf_parity.cpp).

  ggml_blocks.py OUT.safetensors
For each of F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (what llama.cpp's Q2_K..Q8_0
mixes use, IQ4_NL being its fallback for rows that are not a multiple of 256 in Q2_K/Q3_K mixes): random blocks (scale fields set to modest finite halves so no
NaN/Inf arises) as raw bytes "<TYPE>.raw" (U8) and gguf-py's dequantisation "<TYPE>.want" (F32).
"""
import sys

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize
from safetensors.torch import save_file

# Byte offsets of float16 scale fields inside one block, per type (ggml-common.h block layouts).
HALF_FIELDS = {"Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "IQ4_NL": [0],
               "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}
TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def main(out):
    rng = np.random.default_rng(5)
    tensors = {}
    for name in TYPES:
        qtype = Q[name]
        block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
        n_blocks = 64
        raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
        if name == "F16":
            raw = rng.normal(size=(n_blocks * block_elems,)).astype(np.float16).view(np.uint8).reshape(n_blocks, -1)
        elif name == "BF16":
            f = rng.normal(size=(n_blocks * block_elems,)).astype(np.float32)
            raw = (f.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(n_blocks, -1)
        for off in HALF_FIELDS.get(name, []):
            halves = rng.uniform(-0.1, 0.1, size=n_blocks).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
            raw[:, off:off + 2] = halves
        flat = raw.reshape(-1)
        want = dequantize(flat, qtype).reshape(-1).astype(np.float32)
        tensors[f"{name}.raw"] = torch.from_numpy(flat.copy())
        tensors[f"{name}.want"] = torch.from_numpy(want.copy())
    save_file(tensors, out)


if __name__ == "__main__":
    main(sys.argv[1])
