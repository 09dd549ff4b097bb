"""Data loading: what DataLoader draws and from where."""
import torch
from torch.utils.data import DataLoader, TensorDataset

from harness.cell.fingerprint import fingerprint
from harness.cell.registry import scenario

SAMPLES = 100
EPOCHS = 2


def epoch_orders(loader):
    return [torch.cat([batch for (batch,) in loader]) for _ in range(EPOCHS)]


@scenario("loader.shuffle_global")
def shuffle_global(ctx):
    """shuffle=True drawing from the global torch generator (plus what ``full`` passes)."""
    dataset = TensorDataset(torch.arange(SAMPLES))
    loader = DataLoader(dataset, batch_size=10, shuffle=True, **ctx.loader_kwargs())
    return {"order": fingerprint(epoch_orders(loader))}


@scenario("loader.shuffle_generator", torch=">=1.6")
def shuffle_generator(ctx):
    """shuffle=True with the loader's own seeded generator (DataLoader(generator=) is 1.6+)."""
    generator = torch.Generator()
    generator.manual_seed(ctx.seed)
    dataset = TensorDataset(torch.arange(SAMPLES))
    loader = DataLoader(dataset, batch_size=10, shuffle=True, generator=generator)
    return {"order": fingerprint(epoch_orders(loader))}
