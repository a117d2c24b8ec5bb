"""The Jacobian benchmark: 50 Gaussian N(0, 1/n) linear layers of width 512,
initscope's product-form spectrum against what a user would run in torch on
the same weights, on the same machine:

  * torch float64 SVD of the formed product (`torch.linalg.svdvals`),
  * torch float32 SVD of the formed product,
  * torch float64 through the inverse: log10 s_min = -log10 s_max(A_1^-1 ... A_L^-1),
    renormalised per layer (the reference for s_min; s_max from the forward product).

    cargo build --release
    /work/venv/bin/python tests/perf/jacobian_torch.py [--width 512 --depth 50] [--out DIR]

Writes DIR/benchmark.json and DIR/benchmark.png (default results/jacobian-benchmark).
Run it on an idle machine.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
import torch
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "initscope")


def initscope(width, depth, seed, work):
    manifest = {
        "name": "jacobian-benchmark",
        "seed": seed,
        "network": {"input_dim": width, "width": width, "depth": depth,
                    "activation": "identity", "bias": False},
        "init": {"scheme": "lecun_normal"},
        "input": {"batch": 1},
        "jacobian": {"inputs": 1, "values": True},
    }
    path = os.path.join(work, "m.json")
    with open(path, "w") as f:
        json.dump(manifest, f)
    out = os.path.join(work, "out")
    t = time.perf_counter()
    subprocess.run([BIN, "run", path, "--out", out, "--export-weights", "--quiet"],
                   check=True, capture_output=True)
    wall = time.perf_counter() - t
    doc = json.load(open(os.path.join(out, "results.json")))
    run = doc["runs"][0]
    weights = load_file(os.path.join(out, "weights", run["id"] + ".safetensors"))
    ws = [weights[f"layers.{i}.weight"] for i in range(depth)]
    return run["jacobian"], ws, wall, doc["adapter"]["name"]


def formed(ws, dtype):
    p = torch.eye(ws[0].shape[1], dtype=dtype)
    for w in ws:
        p = torch.from_numpy(w).to(dtype) @ p
    return p


def renormalised_log10_smax(mats):
    x = torch.eye(mats[0].shape[0], dtype=torch.float64)
    scale = 0.0
    for a in mats:
        x = x @ a
        f = torch.linalg.matrix_norm(x)
        x = x / f
        scale += float(torch.log10(f))
    return scale + float(torch.log10(torch.linalg.matrix_norm(x, ord=2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "jacobian-benchmark"))
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as work:
        jac, ws, wall, adapter = initscope(a.width, a.depth, a.seed, work)
    ours = jac["log10_values"][0]
    res = {"width": a.width, "depth": a.depth, "seed": a.seed, "adapter": adapter,
           "initscope": {"log10_max": ours[0], "log10_min": ours[-1], "ms": jac["ms"],
                         "run_wall_s": wall}}
    for name, dt in [("torch_float64_svd", torch.float64), ("torch_float32_svd", torch.float32)]:
        t = time.perf_counter()
        s = torch.linalg.svdvals(formed(ws, dt)).to(torch.float64)
        ms = (time.perf_counter() - t) * 1e3
        l10 = torch.log10(s.clamp_min(1e-300)).tolist()
        res[name] = {"log10_max": l10[0], "log10_min": l10[-1], "ms": ms, "log10_values": l10}
    t = time.perf_counter()
    fw = [torch.from_numpy(w).to(torch.float64) for w in ws]
    lo = -renormalised_log10_smax([torch.linalg.inv(w) for w in fw])
    hi = renormalised_log10_smax(fw[::-1])
    res["torch_float64_inverse"] = {"log10_max": hi, "log10_min": lo,
                                    "ms": (time.perf_counter() - t) * 1e3}
    os.makedirs(a.out, exist_ok=True)
    plot(res, ours, a.out)
    res["initscope"]["log10_values"] = ours
    with open(os.path.join(a.out, "benchmark.json"), "w") as f:
        json.dump(res, f, indent=1)
    for k in ["initscope", "torch_float64_inverse", "torch_float64_svd", "torch_float32_svd"]:
        r = res[k]
        print(f"{k:24s} log10 s_max {r['log10_max']:9.4f}  log10 s_min {r['log10_min']:10.4f}  {r['ms']:9.1f} ms")


def plot(res, ours, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    i = np.arange(1, len(ours) + 1)
    ax.plot(i, ours, lw=2.2, color="#1f77b4",
            label=f"initscope product form (s_min = 1e{ours[-1]:.2f})")
    for k, c, lab in [("torch_float64_svd", "#d62728", "torch float64 SVD of the formed product"),
                      ("torch_float32_svd", "#ff7f0e", "torch float32 SVD of the formed product")]:
        v = res[k]["log10_values"]
        ax.plot(i, v, lw=1.4, ls="--", color=c, label=f"{lab} (s_min = 1e{v[-1]:.2f})")
    lo = res["torch_float64_inverse"]["log10_min"]
    ax.axhline(lo, color="k", lw=0.8, ls=":",
               label=f"torch float64 through the inverse: s_min = 1e{lo:.2f}")
    ax.set_xlabel("index i (largest first)")
    ax.set_ylabel("log10 s_i")
    ax.set_title(f"Singular values of the Jacobian: {res['depth']} Gaussian N(0, 1/n) layers, width {res['width']}")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "benchmark.png"))


if __name__ == "__main__":
    sys.exit(main())
