"""The PyTorch equivalent of the orthogonal end-to-end run in compare.py:
10 linear layers of width 1024 initialised with orthogonal_, a batch of
256, one forward and backward pass and the per-layer statistics, from the
command line (interpreter start and import included)."""
import torch

torch.set_num_threads(2)
torch.manual_seed(1)
layers = [torch.nn.Linear(1024, 1024) for _ in range(10)]
for l in layers:
    torch.nn.init.orthogonal_(l.weight)
    torch.nn.init.zeros_(l.bias)
h = torch.randn(256, 1024)
for i, l in enumerate(layers):
    z = l(h)
    h = torch.relu(z) if i < 9 else z
h.mean().backward()
with torch.no_grad():
    for l in layers:
        w = l.weight
        [t.item() for t in (w.mean(), w.std(), w.min(), w.max(), w.norm(), w.grad.norm())]
