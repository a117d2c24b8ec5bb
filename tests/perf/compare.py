"""Side-by-side: initscope (lavapipe or a real GPU) against PyTorch on the CPU,
same configurations, same machine, same session.

    cargo build --release
    python3 -m venv target/venv && target/venv/bin/pip install torch numpy
    target/venv/bin/python tests/perf/compare.py            # full suite (several minutes)
    target/venv/bin/python tests/perf/compare.py --quick    # smaller
    target/venv/bin/python tests/perf/compare.py --train    # only the training loop
    target/venv/bin/python tests/perf/compare.py --no-train # everything but the training loop
    target/venv/bin/python tests/perf/compare.py --ratios   # only issue 15's five ratios (~10 min)

Run it on an idle machine: two CPU-heavy processes halve each other.
"""
import json, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "initscope")
QUICK = "--quick" in sys.argv
# Only the training comparison (it takes minutes on lavapipe).
ONLY_TRAIN = "--train" in sys.argv
# Everything but the training comparison (issue 15's ratios).
NO_TRAIN = "--no-train" in sys.argv
# Only the five ratios of issue 15's "Must show", whole-process runs once or twice.
RATIOS = "--ratios" in sys.argv


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def torch_gemm(n=1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / timed(lambda: a @ b, 10) / 1e9


def tensor_stats(t):
    # The statistics initscope reduces for every tensor.
    f = t[torch.isfinite(t)]
    return (f.mean(), f.std(), f.min(), f.max(), f.norm(), torch.isnan(t).sum(), torch.isinf(t).sum(),
            (t == 0).float().mean(), (t.abs() > 0.9).float().mean())


def torch_step(width, depth, batch):
    layers = [torch.nn.Linear(width, width) for _ in range(depth)]
    for l in layers:
        torch.nn.init.xavier_uniform_(l.weight)
        torch.nn.init.zeros_(l.bias)
    x = torch.randn(batch, width)

    def step():
        for l in layers:
            l.weight.grad = None
            l.bias.grad = None
        h, pre, act = x, [], []
        for i, l in enumerate(layers):
            z = l(h)
            z.retain_grad()
            h = torch.tanh(z) if i < depth - 1 else z
            h.retain_grad()
            pre.append(z)
            act.append(h)
        h.mean().backward()
        with torch.no_grad():
            for i, l in enumerate(layers):
                for t in (l.weight, l.bias, pre[i], act[i], l.weight.grad, l.bias.grad, act[i].grad):
                    [s.item() for s in tensor_stats(t)]

    secs = timed(step, 2 if depth >= 50 else 10)
    return secs * 1e3, 6 * batch * width * width * depth / secs / 1e9


def torch_residual_step(width, ff, depth, tokens):
    """transformer-init.json's configuration as `initscope bench` step (c) runs
    it: pre-LayerNorm blocks x + fc2(gelu(fc1(ln(x)))), embedding input
    N(0, 0.1^2), loss mean; forward, backward and the statistics of every
    block (stream, its gradient, the branch) and every parameter and gradient."""
    blocks = []
    for _ in range(depth):
        ln, fc1, fc2 = torch.nn.LayerNorm(width), torch.nn.Linear(width, ff), torch.nn.Linear(ff, width)
        for l in (fc1, fc2):
            torch.nn.init.xavier_uniform_(l.weight)
            torch.nn.init.zeros_(l.bias)
        blocks.append((ln, fc1, fc2))
    params = [p for b in blocks for m in b for p in m.parameters()]
    table = torch.randn(1000, width) * 0.1
    x = table[torch.randint(0, 1000, (tokens,))]

    def step():
        for p in params:
            p.grad = None
        h, outs, branches = x, [], []
        for ln, fc1, fc2 in blocks:
            f = fc2(torch.nn.functional.gelu(fc1(ln(h))))
            h = h + f
            h.retain_grad()
            outs.append(h)
            branches.append(f)
        h.mean().backward()
        with torch.no_grad():
            for t in outs + [o.grad for o in outs] + branches + params + [p.grad for p in params]:
                [s.item() for s in tensor_stats(t)[:7]]

    secs = timed(step, 2 if QUICK else 5)
    flops = 3 * 2 * 2 * tokens * width * ff * depth
    return secs * 1e3, flops / secs / 1e9


def torch_orthogonal(n):
    w = torch.empty(n, n)
    return timed(lambda: torch.nn.init.orthogonal_(w), 3 if n >= 2048 else 7) * 1e3


# Whole-process stacks (issue 15's "Must show"): label, width, depth, batch,
# activation, init, repeats, target ratio torch time / initscope time.
STACKS = [
    ("10 orthogonal layers of 1024, b256 relu, 2 runs", 1024, 10, 256, "relu", "orthogonal", 2, 0.5),
    ("30x1024 b256 relu, 2 runs", 1024, 30, 256, "relu", "kaiming_normal", 2, 0.75),
    ("50x1024 b1024 tanh, 3 runs", 1024, 50, 1024, "tanh", "xavier_uniform", 3, 0.35),
]


def stack_manifest(width, depth, batch, act, init, repeats):
    return {"name": "perf-stack", "seed": 1, "repeats": repeats, "input": {"batch": batch},
            "init": {"scheme": init, **({"nonlinearity": "relu"} if init == "kaiming_normal" else {})},
            "network": {"input_dim": width, "width": width, "depth": depth, "activation": act}}


def whole_stack(width, depth, batch, act, init, repeats, reps):
    """(initscope s, torch s) for one stack run as a user would run it."""
    with tempfile.TemporaryDirectory() as out:
        manifest = os.path.join(out, "stack.json")
        with open(manifest, "w") as f:
            json.dump(stack_manifest(width, depth, batch, act, init, repeats), f)
        ours = whole_run([BIN, "run", manifest, "--out", os.path.join(out, "res"), "--quiet"], reps)
    script = os.path.join(ROOT, "tests", "perf", "stack_torch.py")
    args = [str(a) for a in (width, depth, batch, act, init, repeats)]
    return ours, whole_run([sys.executable, script] + args, reps)


def torch_randn(n):
    return n / timed(lambda: torch.randn(n), 5) / 1e9


def numpy_normal(n):
    rng = np.random.default_rng(1)
    return n / timed(lambda: rng.standard_normal(n, dtype=np.float32), 5) / 1e9


def whole_run(cmd, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def train_rows(reps=3):
    """tests/perf/train_bench.json (50x1024, batch 1024, tanh, Adam, 10 steps)
    against the same loop in torch (tests/perf/train_torch.py, 2 threads):
    seconds of steps 0..10, medians of `reps` alternating runs."""
    manifest = os.path.join(ROOT, "tests", "perf", "train_bench.json")
    script = os.path.join(ROOT, "tests", "perf", "train_torch.py")
    ours, theirs = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([BIN, "run", manifest, "--out", out, "--quiet"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(os.path.join(out, "results.json")) as f:
                t = json.load(f)["runs"][0]["timing_ms"]
            ours.append((t["step_ms"] + t["train_ms"]) / 1e3)
        r = subprocess.run([sys.executable, script, "--threads", "2"], check=True,
                           capture_output=True, text=True)
        theirs.append(float(r.stdout.split()[0]))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"training runs (s): initscope {ours}, torch {theirs}")
    return [("training 50x1024 b1024 Adam, steps 0..10 (s)", a, b, b / a, 0.35)]


def ratio_rows():
    """Issue 15's five ratios: GEMM 1024³ (from `bench --quick`), the
    init-impact experiment and the three whole-process stacks at full size."""
    bench = json.loads(subprocess.run([BIN, "bench", "--quick", "--json", "-"], check=True,
                                      capture_output=True, text=True).stdout)
    m = next(m for m in bench["results"] if m["name"].startswith("gemm forward X·Wᵀ 1024"))
    g_ours = next(v for v, u in m["throughput"] if u == "GFLOP/s")
    g_torch = torch_gemm(1024)
    rows = [("GEMM 1024³ (GFLOP/s)", g_ours, g_torch, g_ours / g_torch, 0.35)]
    manifest = os.path.join(ROOT, "experiments", "init-impact.json")
    with tempfile.TemporaryDirectory() as out:
        t_ours = whole_run([BIN, "run", manifest, "--out", out, "--quiet"], 2)
    t_torch = whole_run([sys.executable, os.path.join(ROOT, "tests", "perf", "init_impact_torch.py")], 2)
    rows.append(("init-impact.json end to end (s; ours with plots+report)", t_ours, t_torch,
                 t_torch / t_ours, 1.5))
    for label, w, d, b, act, init, repeats, target in STACKS:
        reps = 1 if b * d >= 50 * 1024 else 2
        t_ours, t_torch = whole_stack(w, d, b, act, init, repeats, reps)
        rows.append((f"{label} end to end (s)", t_ours, t_torch, t_torch / t_ours, target))
    return rows


def print_rows(rows):
    print(f"\n{'measure':<58} {'initscope':>10} {'torch':>10} {'ratio':>8}  target")
    for name, a, b, r, target in rows:
        verdict = "" if target is None else ("met" if r >= target else "MISSED") + f" (≥ {target}×)"
        print(f"{name:<58} {a:>10.3f} {b:>10.3f} {r:>7.2f}×  {verdict}")
    print("(ratio = initscope/torch for throughputs; torch time / initscope time for runs)")


def main():
    # The comparison is against torch on this machine's two cores.
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    if ONLY_TRAIN:
        print_rows(train_rows())
        return
    if RATIOS:
        print_rows(ratio_rows())
        return
    args = [BIN, "bench", "--json", "-"] + (["--quick"] if QUICK else [])
    bench = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    by = {m["name"]: m for m in bench["results"]}
    print(f"initscope on {bench['adapter']['name']} ({bench['adapter']['backend']}), GEMM {bench['gemm_variant']}")

    def ours(prefix, unit):
        m = next(m for n, m in by.items() if n.startswith(prefix))
        return next(v for v, u in m["throughput"] if u == unit), m["median_ms"]

    rows = []
    g_ours, _ = ours("gemm forward X·Wᵀ 1024", "GFLOP/s")
    g_torch = torch_gemm(1024)
    rows.append(("GEMM 1024³ (GFLOP/s)", g_ours, g_torch, g_ours / g_torch, 0.35))
    if not QUICK:
        g2, _ = ours("gemm forward X·Wᵀ 2048", "GFLOP/s")
        t2 = torch_gemm(2048)
        rows.append(("GEMM 2048³ (GFLOP/s)", g2, t2, g2 / t2, None))
    for n in (256, 1024):
        _, o_ms = ours(f"init orthogonal {n}x{n}", "GFLOP/s")
        t_ms = torch_orthogonal(n)
        rows.append((f"orthogonal {n}x{n} (ms; ratio torch/ours)", o_ms, t_ms, t_ms / o_ms,
                     0.5 if n == 1024 else None))
    for label, (w, d, b) in [("step (a)", (512, 10, 64)), ("step (b)", (1024, 10 if QUICK else 50, 256 if QUICK else 1024))]:
        gf, ms = ours(label, "GFLOP/s")
        t_ms, t_gf = torch_step(w, d, b)
        rows.append((f"{label} {d}x{w} b{b} (GFLOP/s; ms {ms:.0f} vs {t_ms:.0f})", gf, t_gf, gf / t_gf,
                     0.25 if label == "step (b)" else None))
    gf, ms = ours("step (c)", "GFLOP/s")
    t_ms, t_gf = torch_residual_step(512, 2048, 2 if QUICK else 12, 256 if QUICK else 1024)
    rows.append((f"step (c) residual 12x(512, 2048) 1024 tokens (GFLOP/s; ms {ms:.0f} vs {t_ms:.0f})",
                 gf, t_gf, gf / t_gf, 0.35))
    n = 1 << (22 if QUICK else 24)
    v_ours, _ = ours("philox fill normal", "Gvalues/s")
    v_torch, v_np = torch_randn(n), numpy_normal(n)
    rows.append(("normal fill vs torch.randn (Gvalues/s)", v_ours, v_torch, v_ours / v_torch, 1.0))
    rows.append(("normal fill vs numpy standard_normal", v_ours, v_np, v_ours / v_np, None))

    manifest = os.path.join(ROOT, "experiments", "init-impact.json")
    with tempfile.TemporaryDirectory() as out:
        t_ours = whole_run([BIN, "run", manifest, "--out", out, "--quiet"])
    t_torch = whole_run([sys.executable, os.path.join(ROOT, "tests", "perf", "init_impact_torch.py")])
    rows.append(("init-impact.json end to end (s; ours with plots+report)", t_ours, t_torch, t_torch / t_ours, 1.5))
    for label, w, d, b, act, init, repeats, target in STACKS:
        if QUICK:
            d = min(d, 10)
            label += " [quick: depth 10]"
        t_ours, t_torch = whole_stack(w, d, b, act, init, repeats, 3)
        rows.append((f"{label} end to end (s)", t_ours, t_torch, t_torch / t_ours, target))
    if not NO_TRAIN:
        rows.extend(train_rows(1 if QUICK else 3))
    print_rows(rows)


if __name__ == "__main__":
    main()
