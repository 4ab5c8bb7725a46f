"""The weight-streaming floor of a decode step on this machine: every linear layer of SmolLM2-135M (30 layers of
fused q/k/v, o, fused gate/up, down, plus the 49,152 x 576 lm_head; 540 MB of float32, random values) applied to B
rows, one thread, through torch's unpacked linear (MKL, what transformers runs) and through oneDNN-packed weights
(what crucible's engine runs). A decode step cannot be faster than this; the rest of a step is the engine's own
(attention, norms, sampling). Prints ms per step, GB/s of weights streamed and GFLOPS for each.

  python benchmarks/model/bench_gemm_floor.py [--rows 8 32] [--repeat 5]
"""
import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    L, D, I, V = 30, 576, 1536, 49152
    ws = []
    for _ in range(L):
        ws += [torch.randn(960, D), torch.randn(D, D), torch.randn(2 * I, D), torch.randn(D, I)]
    ws.append(torch.randn(V, D))
    packed = [torch.ops.mkldnn._reorder_linear_weight(w) for w in ws]
    n_weights = sum(w.numel() for w in ws)
    for B in a.rows:
        x = {D: torch.randn(B, D), I: torch.randn(B, I)}
        for name in ("unpacked (MKL)", "oneDNN packed"):
            t = time.perf_counter()
            for _ in range(a.repeat):
                for w, p in zip(ws, packed):
                    xx = x[w.shape[1]]
                    if name.startswith("unpacked"):
                        torch.nn.functional.linear(xx, w)
                    else:
                        torch.ops.mkldnn._linear_pointwise(xx, p, None, "none", [], "")
            d = (time.perf_counter() - t) / a.repeat
            print(f"rows {B:3d}  {name:15s} {d * 1000:7.1f} ms/step  {n_weights * 4 / d / 1e9:5.2f} GB/s  "
                  f"{2 * B * n_weights / d / 1e9:5.1f} GFLOPS")


if __name__ == "__main__":
    main()
