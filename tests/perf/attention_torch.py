"""Seed 001 section 4 in PyTorch, as experiments/transformer-init.json runs it:
12 pre-LayerNorm blocks (d_model 512, nn.MultiheadAttention with 8 heads,
d_ff 2048, gelu), token embeddings (vocab 1000, batch 32 x seq 128), loss =
output.mean(); per strategy (standard / scaled / small_init): init, forward,
backward and the statistics initscope records (every block's stream, its
gradient, both branches, the attention logits' std and entropy per head,
every parameter and gradient). Prints each strategy's step time and the
median, for an A/B against `initscope run experiments/transformer-init.json`
(whose results.json has each run's `timing_ms.step_ms`).

    /path/to/venv/bin/python tests/perf/attention_torch.py [--blocks N] [--threads N]
"""
import argparse, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

D, HEADS, FF, SEQ, BATCH, VOCAB = 512, 8, 2048, 128, 32, 1000


def stats(t):
    f = t[torch.isfinite(t)]
    return [s.item() for s in (f.mean(), f.std(), f.min(), f.max(), f.norm(), torch.isnan(t).sum(),
                               torch.isinf(t).sum())]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm, self.ff_norm = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, HEADS, batch_first=True)
        self.fc1, self.fc2 = nn.Linear(D, FF), nn.Linear(FF, D)


def init(blocks, strategy):
    with torch.no_grad():
        for b in blocks:
            w = b.attn.in_proj_weight
            mats = [w[:D], w[D:2 * D], w[2 * D:], b.attn.out_proj.weight, b.fc1.weight, b.fc2.weight]
            for m in mats:  # q, k, v as three Linears (seed 001's MultiHeadAttention)
                if strategy == "small_init":
                    m.normal_(0, 0.02)
                else:
                    nn.init.xavier_uniform_(m)
            if strategy == "scaled":
                b.attn.out_proj.weight *= 0.5
                b.fc2.weight *= 0.5
            for p in (b.attn.in_proj_bias, b.attn.out_proj.bias, b.fc1.bias, b.fc2.bias):
                p.zero_()


def step(blocks, x):
    params = [p for b in blocks for p in b.parameters()]
    for p in params:
        p.grad = None
    h, outs, branches, attn_stats = x, [], [], []
    for b in blocks:
        n = b.attn_norm(h)
        g, w = b.attn(n, n, n, need_weights=True, average_attn_weights=False)
        with torch.no_grad():  # logits std and entropy per head, as initscope records them
            q, k, _ = F.linear(n, b.attn.in_proj_weight, b.attn.in_proj_bias).split(D, -1)
            q = q.reshape(BATCH, SEQ, HEADS, -1).transpose(1, 2)
            k = k.reshape(BATCH, SEQ, HEADS, -1).transpose(1, 2)
            logits = q @ k.transpose(-1, -2) / math.sqrt(D // HEADS)
            ent = -(w * w.clamp_min(1e-30).log()).sum(-1).mean(dim=(0, 2))
            attn_stats.append((logits.std().item(), ent.tolist()))
        h = h + g
        f = b.fc2(F.gelu(b.fc1(b.ff_norm(h))))
        h = h + f
        h.retain_grad()
        outs.append(h)
        branches += [g, f]
    h.mean().backward()
    with torch.no_grad():
        for t in outs + [o.grad for o in outs] + branches + params + [p.grad for p in params]:
            stats(t)
        for b in blocks:
            a = math.sqrt(sum(p.grad.norm().item() ** 2 for p in b.attn.parameters()))
            f = math.sqrt(sum(p.grad.norm().item() ** 2 for p in (*b.fc1.parameters(), *b.fc2.parameters())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    blocks = [Block() for _ in range(args.blocks)]
    times = []
    for strategy in ("standard", "scaled", "small_init"):
        init(blocks, strategy)
        table = torch.randn(VOCAB, D) * (0.02 if strategy == "small_init" else 0.1)
        x = table[torch.randint(0, VOCAB, (BATCH, SEQ))]
        t = time.perf_counter()
        step(blocks, x)
        times.append(time.perf_counter() - t)
        print(f"{strategy}: step {times[-1] * 1e3:.0f} ms")
    print(f"median step {statistics.median(times) * 1e3:.0f} ms ({args.blocks} blocks, {args.threads} threads, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
