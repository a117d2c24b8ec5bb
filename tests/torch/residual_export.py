"""The residual-stack export against PyTorch: `--export-weights` must load into
the README's torch module with `load_state_dict(strict=True)`, and torch's
forward and backward on the exported tensors (in float64) must reproduce
initscope's per-block statistics (blocks[] and tensors[] of results.json).

    cargo build --release
    /path/to/venv/bin/python tests/torch/residual_export.py

Skipped (exit 0 with a note) when torch or safetensors is not installed; the
Rust test suite never needs Python. INITSCOPE_BIN overrides the binary.
"""
import json, math, os, subprocess, sys, tempfile

try:
    import torch
    import torch.nn as nn
    from safetensors.torch import load_file
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: {e}")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("INITSCOPE_BIN", os.path.join(ROOT, "target", "release", "initscope"))
REL = 1e-4


# --- The README's module (keep the two in step) -----------------------------
def make_norm(norm, d, eps, bias):
    if norm == "layernorm":
        return nn.LayerNorm(d, eps=eps, bias=bias)
    if norm == "rmsnorm":
        return nn.RMSNorm(d, eps=eps)
    return None


class Block(nn.Module):
    def __init__(self, d, ff, act, norm, eps, bias, pre, skip, a):
        super().__init__()
        self.ff_norm = make_norm(norm, d, eps, bias)
        self.fc1, self.fc2 = nn.Linear(d, ff, bias=bias), nn.Linear(ff, d, bias=bias)
        self.act, self.pre, self.skip, self.a = act, pre, skip, a

    def forward(self, x):
        n = self.ff_norm or nn.Identity()
        if self.pre:
            return self.skip * x + self.a * self.fc2(self.act(self.fc1(n(x))))
        return n(self.skip * x + self.a * self.fc2(self.act(self.fc1(x))))


class ResidualStack(nn.Module):
    def __init__(self, input_dim, d, depth, ff, act, norm, eps, bias, pre, skip, a, final_norm):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, d, bias=bias) if input_dim != d else None
        self.blocks = nn.ModuleList(Block(d, ff, act, norm, eps, bias, pre, skip, a) for _ in range(depth))
        self.final_norm = make_norm(norm, d, eps, bias) if final_norm else None

    def forward(self, x):
        x = self.input_proj(x) if self.input_proj is not None else x
        for b in self.blocks:
            x = b(x)
        return self.final_norm(x) if self.final_norm is not None else x
# -----------------------------------------------------------------------------


ACTS = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU(), "tanh": nn.Tanh(),
        "silu": nn.SiLU(), "identity": nn.Identity()}


def module_of(net):
    """The torch module of a run's `config.network` (initscope's defaults)."""
    L, d = net["depth"], net["width"]
    norm = net.get("norm", "layernorm")
    scale = net.get("residual_scale", 1.0)
    pre, skip = net.get("norm_position", "pre") == "pre", 1.0
    if scale == "1/sqrt(2L)":
        a = 1 / math.sqrt(2 * L)
    elif scale == "1/sqrt(L)":
        a = 1 / math.sqrt(L)
    elif scale == "deepnorm":
        a, pre, skip = 1.0, False, (2 * L) ** 0.25
    else:
        a = float(scale)
    act = net.get("activation", "tanh")
    act = act["name"] if isinstance(act, dict) else act
    final = net.get("final_norm", False) and norm != "none"
    return ResidualStack(net["input_dim"], d, L, net.get("ff_width", 4 * d), ACTS[act], norm,
                         net.get("norm_eps", 1e-5), net.get("bias", True), pre, skip, a, final), a


def stats(t):
    t = t.detach().double().flatten()
    return {"mean": t.mean().item(), "std": t.std().item(), "norm": t.norm().item(),
            "min": t.min().item(), "max": t.max().item()}


def close(what, got, want):
    scale = max(abs(want["std"]), abs(want["mean"]), 1e-30)
    for k in ("mean", "std", "norm", "min", "max"):
        a, b = got[k], want[k]
        if abs(a - b) > REL * (abs(b) + scale):
            raise AssertionError(f"{what}.{k}: initscope {a} vs torch {b}")


def check_run(run, weights):
    cfg = run["config"]
    model, a = module_of(cfg["network"])
    state = load_file(weights)
    x, target = state.pop("input"), state.pop("target", None)
    model.load_state_dict(state, strict=True)
    model = model.double()
    # Record each block's branch a·FF(.) and output on the way.
    outs, branches = [], []
    h = model.input_proj(x.double()) if model.input_proj is not None else x.double()
    for blk in model.blocks:
        n = blk.ff_norm or nn.Identity()
        f = blk.a * blk.fc2(blk.act(blk.fc1(n(h) if blk.pre else h)))
        h = blk.skip * h + f if blk.pre else n(blk.skip * h + f)
        h.retain_grad()
        outs.append(h)
        branches.append(f)
    y = model.final_norm(h) if model.final_norm is not None else h
    loss = cfg.get("loss", "mean")
    name = loss["name"] if isinstance(loss, dict) else loss
    if name == "mse":
        l = ((y - target.double()) ** 2).mean()
    elif name == "mean_square":
        l = (y ** 2).mean()
    elif name == "sum":
        l = y.sum()
    else:
        l = y.mean()
    l.backward()
    for rec, o, f in zip(run["blocks"], outs, branches):
        i = rec["index"]
        close(f"{run['id']} block {i} stream", rec["stream"], stats(o))
        close(f"{run['id']} block {i} grad_stream", rec["grad_stream"], stats(o.grad))
        close(f"{run['id']} block {i} ff_branch", rec["ff_branch"], stats(f))
    params = dict(model.named_parameters())
    for t in run["tensors"]:
        p = params[t["name"]]
        assert list(p.shape) == t["shape"], (t["name"], p.shape, t["shape"])
        close(f"{run['id']} {t['name']}", t["value"], stats(p))
        close(f"{run['id']} {t['name']} grad", t["grad"], stats(p.grad))
    assert abs(run["summary"]["loss"] - l.item()) <= REL * abs(l.item()), (run["summary"]["loss"], l.item())


MANIFEST = {
    "name": "residual-export-check", "seed": 7,
    "network": {"input_dim": 24, "width": 32, "depth": 3, "block": "residual", "ff_width": 48,
                "activation": "gelu", "norm": "layernorm"},
    "input": {"batch": 40},
    "loss": {"name": "mse"},
    "overrides": [{"match": "*norm.weight", "init": {"scheme": "normal", "mean": 1.0, "std": 0.3}},
                  {"match": "blocks.*.fc2.weight", "scale": 0.5}],
    "variants": [
        {"label": "pre layernorm"},
        {"label": "post rmsnorm, final norm, 1/sqrt(2L)",
         "network": {"norm": "rmsnorm", "norm_position": "post", "final_norm": True, "residual_scale": "1/sqrt(2L)",
                     "activation": "relu"}},
        {"label": "deepnorm, no bias", "network": {"residual_scale": "deepnorm", "bias": False}},
        {"label": "no norm, embedding input",
         "network": {"norm": "none", "input_dim": 32, "activation": "tanh"}, "overrides": [],
         "input": {"batch": 40, "embedding": {"vocab": 50, "init": {"scheme": "normal", "std": 0.1},
                                              "positions": "sinusoidal", "seq_len": 8}}},
    ],
}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        with open(path, "w") as f:
            json.dump(MANIFEST, f)
        out = os.path.join(tmp, "out")
        subprocess.run([BIN, "run", path, "--out", out, "--export-weights", "--quiet"], check=True)
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        for run in doc["runs"]:
            check_run(run, os.path.join(out, "weights", run["id"] + ".safetensors"))
            print(f"ok: {run['label']}: strict load, {len(run['blocks'])} blocks and "
                  f"{len(run['tensors'])} tensors within {REL} of torch")


if __name__ == "__main__":
    main()
