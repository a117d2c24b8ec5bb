"""The PyTorch script a user would otherwise write for one plain linear stack
run of initscope, from the command line (interpreter start and import are part
of the timing, as they are for `initscope run`):

    python tests/perf/stack_torch.py WIDTH DEPTH BATCH ACTIVATION INIT REPEATS

Each repeat: a fresh stack of DEPTH Linear(WIDTH, WIDTH) layers initialised
with INIT (orthogonal, xavier_uniform or kaiming_normal) and zero biases, a
standard normal input batch, the activation after every layer but the last,
loss = output.mean(), one backward pass, and the statistics initscope reports
for every weight, bias, pre-activation, activation and their gradients.
"""
import sys

import torch

width, depth, batch = (int(a) for a in sys.argv[1:4])
act, init, repeats = sys.argv[4], sys.argv[5], int(sys.argv[6])
torch.manual_seed(1)
ACT = {"relu": torch.relu, "tanh": torch.tanh}[act]
INIT = {
    "orthogonal": torch.nn.init.orthogonal_,
    "xavier_uniform": torch.nn.init.xavier_uniform_,
    "kaiming_normal": lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu"),
}[init]


def stats(t):
    f = t[torch.isfinite(t)]
    return (f.mean(), f.std(), f.min(), f.max(), f.norm(), torch.isnan(t).sum(), torch.isinf(t).sum(),
            (t == 0).float().mean(), (t.abs() > 0.9).float().mean())


for _ in range(repeats):
    layers = [torch.nn.Linear(width, width) for _ in range(depth)]
    with torch.no_grad():
        for l in layers:
            INIT(l.weight)
            torch.nn.init.zeros_(l.bias)
    h = torch.randn(batch, width)
    pre, post = [], []
    for i, l in enumerate(layers):
        z = l(h)
        z.retain_grad()
        h = ACT(z) if i < depth - 1 else z
        h.retain_grad()
        pre.append(z)
        post.append(h)
    h.mean().backward()
    with torch.no_grad():
        for l, z, a in zip(layers, pre, post):
            for t in (l.weight, l.bias, z, a, l.weight.grad, l.bias.grad, z.grad, a.grad):
                [s.item() for s in stats(t)]
