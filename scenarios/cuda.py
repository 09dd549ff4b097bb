"""GPU only: cuDNN autotuning, atomics and the CUDA generator.

Registered with ``cuda=True``: on a machine without CUDA each records ``n/a``
("no CUDA device"). Inputs and weights are built on the CPU from fixed recipes
or the global torch generator and then moved, so CPU seeding still applies.
"""
import numpy as np
import torch
import torch.nn as nn

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario

RUNS = 10


def _recipe_tensor(seed, *shape):
    return torch.from_numpy(np.random.RandomState(seed).randn(*shape).astype(np.float32))


def _distinct(tensors):
    return len(set(fingerprint(t) for t in tensors))


@scenario("cuda.conv_benchmark", cuda=True)
def conv_benchmark(ctx):
    """cudnn.benchmark=True, as training scripts set it for speed: forward and
    weight-gradient of a conv, repeated; does autotuning change the bytes?"""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        conv = nn.Conv2d(16, 32, 3, padding=1).cuda()
        images = _recipe_tensor(51, 8, 16, 32, 32).cuda()
        outputs, grads = [], []
        for _ in range(RUNS):
            conv.zero_grad()
            out = conv(images)
            out.sum().backward()
            outputs.append(out.detach().cpu())
            grads.append(conv.weight.grad.detach().cpu())
        torch.backends.cudnn.benchmark = False
        default = conv(images).detach().cpu()
    finally:
        torch.backends.cudnn.benchmark = previous
    return {"output": fingerprint(outputs[0]), "weight_grad": fingerprint(grads[0]),
            "distinct_outputs": _distinct(outputs), "distinct_grads": _distinct(grads),
            "matches_no_benchmark": torch.equal(outputs[0], default)}


@scenario("cuda.index_add", cuda=True)
def index_add(ctx):
    """index_add_ with many duplicate indices: float atomics add in any order.

    Under ``full`` (deterministic algorithms on) torch either uses a deterministic
    kernel or raises; ``raises_when_deterministic`` records which.
    """
    source = _recipe_tensor(52, 200000).cuda()
    index = torch.from_numpy(np.random.RandomState(53).randint(0, 16, 200000)).cuda()
    results = []
    try:
        for _ in range(RUNS):
            target = torch.zeros(16, device="cuda")
            target.index_add_(0, index, source)
            results.append(target.cpu())
    except RuntimeError as exc:
        if "deterministic" not in str(exc):
            raise
        return {"raises_when_deterministic": True}
    return {"raises_when_deterministic": False, "distinct_results": _distinct(results),
            "values": fingerprint(results[0])}


@scenario("cuda.lstm_dropout", cuda=True)
def lstm_dropout(ctx):
    """A 2-layer cuDNN LSTM with dropout in train mode; a rerun after reseeding."""
    lstm = nn.LSTM(16, 32, num_layers=2, dropout=0.5).cuda().train()
    sequence = _recipe_tensor(54, 10, 4, 16).cuda()
    with torch.no_grad():
        first, _ = lstm(sequence)
        second, _ = lstm(sequence)
        ctx.reseed()
        rerun, _ = lstm(sequence)
    return {"output": fingerprint(first), "passes_differ": not torch.equal(first, second),
            "rerun_identical": torch.equal(first, rerun)}


@scenario("cuda.randn_large", cuda=True)
def randn_large(ctx):
    """torch.randn on the GPU (Philox) next to the same call on the CPU."""
    on_gpu = torch.randn(1 << 20, device="cuda").cpu()
    on_cpu = torch.randn(1 << 20)
    return {"values": fingerprint(on_gpu), "head": fingerprint(on_gpu[:16]),
            "matches_cpu": torch.equal(on_gpu, on_cpu)}
