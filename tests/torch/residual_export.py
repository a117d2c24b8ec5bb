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
    import torch.nn.functional as F
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


def attend(mha, x, seq, causal, scale):
    """Self-attention within each run of `seq` rows of x (tokens, d): torch's
    own nn.MultiheadAttention at scale None (1/sqrt(d_head)), else its packed
    parameters through scaled_dot_product_attention at `scale`."""
    d = x.shape[-1]
    xs = x.reshape(-1, seq, d)
    if scale is None:
        mask = nn.Transformer.generate_square_subsequent_mask(seq, dtype=x.dtype) if causal else None
        y, _ = mha(xs, xs, xs, attn_mask=mask, need_weights=False)
        return y.reshape(-1, d)
    h, dh = mha.num_heads, d // mha.num_heads
    q, k, v = (t.reshape(-1, seq, h, dh).transpose(1, 2)
               for t in F.linear(xs, mha.in_proj_weight, mha.in_proj_bias).split(d, -1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    return mha.out_proj(y.transpose(1, 2).reshape(-1, d))


class Block(nn.Module):
    def __init__(self, d, ff, act, norm, eps, bias, pre, skip, a, attn=None):
        super().__init__()
        if attn is not None:  # {"heads", "seq_len", "causal", "scale": None or a number}
            self.attn_norm = make_norm(norm, d, eps, bias)
            self.attn = nn.MultiheadAttention(d, attn["heads"], bias=bias, batch_first=True)
        self.attn_cfg = attn
        self.ff_norm = make_norm(norm, d, eps, bias)
        self.fc1, self.fc2 = nn.Linear(d, ff, bias=bias), nn.Linear(ff, d, bias=bias)
        self.act, self.pre, self.skip, self.a = act, pre, skip, a

    def attention(self, x):
        c = self.attn_cfg
        return self.a * attend(self.attn, x, c["seq_len"], c["causal"], c["scale"])

    def forward(self, x):
        if self.attn_cfg is not None:
            n = self.attn_norm or nn.Identity()
            x = self.skip * x + self.attention(n(x)) if self.pre else n(self.skip * x + self.attention(x))
        n = self.ff_norm or nn.Identity()
        if self.pre:
            return self.skip * x + self.a * self.fc2(self.act(self.fc1(n(x))))
        return n(self.skip * x + self.a * self.fc2(self.act(self.fc1(x))))


class ResidualStack(nn.Module):
    def __init__(self, input_dim, d, depth, ff, act, norm, eps, bias, pre, skip, a, final_norm, attn=None):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, d, bias=bias) if input_dim != d else None
        self.blocks = nn.ModuleList(Block(d, ff, act, norm, eps, bias, pre, skip, a, attn)
                                    for _ in range(depth))
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
    attn = net.get("attention")
    if attn is not None:
        dh = d // attn["heads"]
        rule = attn.get("scale", "1/sqrt(d_head)")
        scale = {"1/sqrt(d_head)": None, "1/d_head": 1 / dh}.get(rule, rule)
        attn = {"heads": attn["heads"], "seq_len": attn["seq_len"], "causal": attn.get("causal", False),
                "scale": scale}
    return ResidualStack(net["input_dim"], d, L, net.get("ff_width", 4 * d), ACTS[act], norm,
                         net.get("norm_eps", 1e-5), net.get("bias", True), pre, skip, a, final, attn), a


def attention_records(blk, x):
    """(logits std, entropy per head) of a block's attention on input x."""
    c, mha = blk.attn_cfg, blk.attn
    d, seq = x.shape[-1], c["seq_len"]
    h, dh = mha.num_heads, d // mha.num_heads
    q, k, _ = (t.reshape(-1, seq, h, dh).transpose(1, 2)
               for t in F.linear(x.reshape(-1, seq, d), mha.in_proj_weight, mha.in_proj_bias).split(d, -1))
    scale = c["scale"] if c["scale"] is not None else 1 / math.sqrt(dh)
    logits = scale * q @ k.transpose(-1, -2)
    visible = torch.ones(seq, seq, dtype=torch.bool)
    if c["causal"]:
        visible = visible.tril()
    logits_std = logits[..., visible].std().item()
    p = torch.softmax(logits.masked_fill(~visible, float("-inf")), -1)
    ent = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(-1)  # (batch, heads, seq)
    return logits_std, ent.mean(dim=(0, 2)).tolist()


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
    # Record each block's branches a·Attn(.), a·FF(.) and output on the way.
    outs, branches, attns = [], [], []
    h = model.input_proj(x.double()) if model.input_proj is not None else x.double()
    for blk in model.blocks:
        if blk.attn_cfg is not None:
            n = blk.attn_norm or nn.Identity()
            xin = n(h) if blk.pre else h
            g = blk.attention(xin)
            attns.append((g, *attention_records(blk, xin)))
            h = blk.skip * h + g if blk.pre else n(blk.skip * h + g)
        n = blk.ff_norm or nn.Identity()
        f = blk.a * blk.fc2(blk.act(blk.fc1(n(h) if blk.pre else h)))
        h = blk.skip * h + f if blk.pre else n(blk.skip * h + f)
        h.retain_grad()
        outs.append(h)
        branches.append(f)
    if attns:
        # The module's own forward agrees with the step-by-step one above.
        ref = model(x.double())
        assert torch.allclose(ref, h, rtol=1e-12, atol=1e-12), "module forward"
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
    for rec, (g, logits_std, ent) in zip(run["blocks"], attns):
        i = rec["index"]
        close(f"{run['id']} block {i} attn_branch", rec["attn_branch"], stats(g))
        got = rec["attn_logits_std"]
        assert abs(got - logits_std) <= REL * logits_std, (i, got, logits_std)
        for a, b in zip(rec["attn_entropy"], ent):
            assert abs(a - b) <= REL * max(b, 1e-3), (i, rec["attn_entropy"], ent)
        assert abs(rec["attn_entropy_max"] - math.log(model.blocks[i].attn_cfg["seq_len"])) < 1e-12
    params = dict(model.named_parameters())
    for rec, blk in zip(run["blocks"], model.blocks):
        if blk.attn_cfg is not None:
            attn = math.sqrt(sum(p.grad.norm().item() ** 2 for p in blk.attn.parameters()))
            ff = math.sqrt(sum(p.grad.norm().item() ** 2 for p in (*blk.fc1.parameters(), *blk.fc2.parameters())))
            assert abs(rec["attn_grad_norm"] - attn) <= REL * attn, (rec["attn_grad_norm"], attn)
            assert abs(rec["ff_grad_norm"] - ff) <= REL * ff, (rec["ff_grad_norm"], ff)
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
        {"label": "attention: pre layernorm, 4 heads, seq 8",
         "network": {"attention": {"heads": 4, "seq_len": 8}}},
        {"label": "attention: post rmsnorm, causal, 1/d_head, 1 head, zero queries, 1/sqrt(L)",
         "network": {"norm": "rmsnorm", "norm_position": "post", "residual_scale": "1/sqrt(L)",
                     "attention": {"heads": 1, "seq_len": 5, "causal": True, "scale": "1/d_head"}},
         "overrides": [{"match": "blocks.*.attn.q_proj.weight", "init": {"scheme": "zeros"}}]},
        {"label": "attention: deepnorm, no bias, causal, 8 heads, seq 4, scale 0.7",
         "network": {"residual_scale": "deepnorm", "bias": False,
                     "attention": {"heads": 8, "seq_len": 4, "causal": True, "scale": 0.7}}},
        {"label": "attention: no norm, embedding input, q x3",
         "network": {"norm": "none", "input_dim": 32, "activation": "tanh",
                     "attention": {"heads": 2, "seq_len": 8}},
         "overrides": [{"match": "blocks.*.attn.q_proj.weight", "scale": 3.0},
                       {"match": "blocks.*.attn.in_proj_bias", "init": {"scheme": "normal", "std": 0.1}}],
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
