"""Raw random streams and default initialisation: the draws everything else is built on.

Each scenario makes one call the way user code does and returns

* ``values``: fingerprint of what the call gave (the tensor, or the module's
  parameters for ``init.*``);
* ``state_after``: fingerprint of the torch CPU generator state after the call,
  so a change in how many numbers a call consumes shows even where its values
  agree (and it shifts everything drawn afterwards).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario

N = 1000  # large enough for torch's vectorised paths (16+ elements)


def _result(values):
    return {"values": fingerprint(values), "state_after": fingerprint(torch.get_rng_state())}


def _parameters(module):
    return sorted(module.state_dict().items())


@scenario("streams.rand")
def rand(ctx):
    return _result(torch.rand(N))


@scenario("streams.randn_small")
def randn_small(ctx):
    # Fewer than 16 elements: torch's CPU normal takes its scalar path here.
    return _result(torch.randn(8))


@scenario("streams.randn_large")
def randn_large(ctx):
    return _result(torch.randn(N))


@scenario("streams.randint")
def randint(ctx):
    return _result(torch.randint(0, 10, (N,)))


@scenario("streams.randperm")
def randperm(ctx):
    return _result(torch.randperm(N))


@scenario("streams.bernoulli_tensor_p")
def bernoulli_tensor_p(ctx):
    return _result(torch.bernoulli(torch.full((N,), 0.3)))


@scenario("streams.bernoulli_scalar_p")
def bernoulli_scalar_p(ctx):
    return _result(torch.empty(N).bernoulli_(0.3))


@scenario("streams.dropout")
def dropout(ctx):
    return _result(F.dropout(torch.ones(N), p=0.5, training=True))


@scenario("streams.multinomial")
def multinomial(ctx):
    weights = torch.arange(1, 21, dtype=torch.float).repeat(4, 1)
    return _result([torch.multinomial(weights, 10),
                    torch.multinomial(weights, 50, replacement=True)])


@scenario("streams.normal")
def normal(ctx):
    return _result(torch.normal(torch.zeros(N), torch.ones(N)))


@scenario("streams.exponential")
def exponential(ctx):
    return _result(torch.empty(N).exponential_())


@scenario("streams.trunc_normal", torch=">=1.6")
def trunc_normal(ctx):
    return _result(nn.init.trunc_normal_(torch.empty(N)))


@scenario("init.linear")
def linear(ctx):
    return _result(_parameters(nn.Linear(64, 32)))


@scenario("init.conv2d")
def conv2d(ctx):
    return _result(_parameters(nn.Conv2d(3, 16, 3)))


@scenario("init.lstm")
def lstm(ctx):
    return _result(_parameters(nn.LSTM(16, 32)))


@scenario("init.embedding")
def embedding(ctx):
    return _result(_parameters(nn.Embedding(100, 16)))


@scenario("init.multihead_attention")
def multihead_attention(ctx):
    return _result(_parameters(nn.MultiheadAttention(32, 4)))
