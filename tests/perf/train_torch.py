"""The PyTorch twin of train_bench.json: 50 tanh layers of 1024 (Xavier
uniform weights, zero biases), batch 1024, MSE to a linear teacher's output,
10 Adam steps (lr 1e-3), on the CPU, as initscope runs them: steps 0 to 10
each a forward and backward pass (the loss of every step is read), an
update after each but the last. Prints the seconds of that loop.

    python3 tests/perf/train_torch.py [--threads N]
"""
import sys, time

import torch


def main():
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    width, depth, batch, steps = 1024, 50, 1024, 10
    layers = []
    for i in range(depth):
        lin = torch.nn.Linear(width, width)
        torch.nn.init.xavier_uniform_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < depth - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    x = torch.randn(batch, width)
    teacher = torch.randn(width, width) / width ** 0.5
    target = x @ teacher.T
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t = time.perf_counter()
    losses = []
    for k in range(steps + 1):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        losses.append(loss.item())
        if k < steps:
            opt.step()
    print(f"{time.perf_counter() - t:.3f}")
    print(" ".join(f"{v:.5f}" for v in losses), file=sys.stderr)


if __name__ == "__main__":
    main()
