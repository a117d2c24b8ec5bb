"""Torch parity of initscope's training: every run of train_parity.json is
replayed in PyTorch from the tensors initscope exported at init
(--export-weights), with torch.optim's own optimizers and LambdaLR, in
float64, and the loss of every step is compared with results.json.

    target/release/initscope run tests/perf/train_parity.json --out /tmp/p --export-weights
    target/venv/bin/python tests/perf/train_parity.py /tmp/p

Prints one line per run (largest relative loss difference over the steps)
and exits 1 if any is above 1e-3 (initscope computes in float32).
"""
import json, math, os, sys

import torch
from safetensors.torch import load_file

TOL = 1e-3
ACTS = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda x: x}


def optimizer(params, opt):
    """torch.optim from the echoed `train.optimizer` (defaults filled)."""
    name = opt["name"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"],
                               dampening=opt["dampening"], nesterov=opt["nesterov"],
                               weight_decay=opt["weight_decay"])
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"],
               weight_decay=opt["weight_decay"])


def schedule(train):
    """The documented lambda (README: Training)."""
    w, decay, steps = train["schedule"]["warmup"], train["schedule"]["decay"], train["steps"]

    def f(k):
        if k < w:
            return (k + 1) / w
        if decay == "none":
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * (k - w) / max(steps - w, 1)))
    return f


def replay(run, weights):
    cfg = run["config"]
    train, net = cfg["train"], cfg["network"]
    t = load_file(weights)
    depth = sum(1 for k in t if k.endswith(".weight"))
    params = []
    for i in range(depth):
        params.append(t[f"layers.{i}.weight"].double().requires_grad_())
        if f"layers.{i}.bias" in t:
            params.append(t[f"layers.{i}.bias"].double().requires_grad_())
    x, target = t["input"].double(), t["target"]
    act, last = ACTS[net["activation"]], ACTS[net["final_activation"]]
    ce = cfg["loss"] == "cross_entropy"

    def loss_of():
        h, p = x, iter(params)
        for i in range(depth):
            w = next(p)
            h = h @ w.T
            if net["bias"]:
                h = h + next(p)
            h = last(h) if i == depth - 1 else act(h)
        if ce:
            return torch.nn.functional.cross_entropy(h, target.long())
        return torch.nn.functional.mse_loss(h, target.double())

    opt = optimizer(params, train["optimizer"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule(train))
    losses = []
    for k in range(train["steps"] + 1):
        opt.zero_grad()
        loss = loss_of()
        losses.append(loss.item())
        if k < train["steps"]:
            loss.backward()
            opt.step()
            sched.step()
    return losses


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "results.json")) as f:
        doc = json.load(f)
    worst = 0.0
    for run in doc["runs"]:
        ours = {s["step"]: s["loss"] for s in run["train"]["steps"]}
        theirs = replay(run, os.path.join(out, "weights", run["id"] + ".safetensors"))
        rel = max(abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-30) for k in ours)
        worst = max(worst, rel)
        print(f"{run['id']} {run['label']:<40} steps {len(ours) - 1:>3}  "
              f"loss {theirs[0]:.5g} -> {theirs[-1]:.5g}  max rel diff {rel:.2e}")
    print(f"largest relative difference {worst:.2e} (tolerance {TOL:g})")
    sys.exit(0 if worst <= TOL else 1)


if __name__ == "__main__":
    main()
