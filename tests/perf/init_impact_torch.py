"""The PyTorch notebook a user would otherwise write for experiments/init-impact.json:
10 layers of 512, batch 64, tanh after every layer but the last, loss = output.mean(),
four arms, per-layer statistics of weights, pre-activations, activations and gradients
(the same set initscope reports), printed as a table. No plots.

Run from the command line (interpreter start and import included in the timing):
    target/venv/bin/python tests/perf/init_impact_torch.py
"""
import math
import torch
import torch.nn as nn

torch.manual_seed(42)
WIDTH, DEPTH, BATCH = 512, 10, 64


def stats(t):
    t = t.detach()
    finite = t[torch.isfinite(t)]
    return {
        "mean": finite.mean().item(), "std": finite.std().item(),
        "min": finite.min().item(), "max": finite.max().item(), "norm": finite.norm().item(),
        "nan": torch.isnan(t).sum().item(), "inf": torch.isinf(t).sum().item(),
        "zero": (t == 0).float().mean().item(), "sat": (t.abs() > 0.9).float().mean().item(),
    }


def arm(name, init):
    layers = [nn.Linear(WIDTH, WIDTH) for _ in range(DEPTH)]
    for l in layers:
        init(l.weight)
        nn.init.zeros_(l.bias)
    x = torch.randn(BATCH, WIDTH)
    pre, act = [], []
    h = x
    for i, l in enumerate(layers):
        z = l(h)
        z.retain_grad()
        h = torch.tanh(z) if i < DEPTH - 1 else z
        h.retain_grad()
        pre.append(z)
        act.append(h)
    loss = h.mean()
    loss.backward()
    rows = []
    for i, l in enumerate(layers):
        rows.append({
            "weight": stats(l.weight), "preact": stats(pre[i]), "act": stats(act[i]),
            "grad_weight": stats(l.weight.grad), "grad_bias": stats(l.bias.grad), "grad_act": stats(act[i].grad),
        })
    final_std = rows[-1]["act"]["std"]
    grad_norms = [r["grad_weight"]["norm"] for r in rows]
    print(f"{name:<24} final std {final_std:.3e}  mean |dW| {sum(grad_norms)/len(grad_norms):.3e}  "
          f"ratio {max(grad_norms)/max(min(grad_norms), 1e-300):.3e}")


arm("Too small (std 0.01)", lambda w: nn.init.normal_(w, std=0.01))
arm("Too large (std 1.0)", lambda w: nn.init.normal_(w, std=1.0))
arm("Xavier/Glorot", lambda w: nn.init.xavier_uniform_(w))
arm("He (relu gain)", lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))
