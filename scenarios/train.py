"""Training: small models trained the way users train them.

Every run builds its model after the runner's seeding (default init draws from
the global torch generator), shuffles with a DataLoader and uses dropout or
random augmentation, so each metric depends on the whole call order.
"""
import copy

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms as T
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from . import _train

EPOCHS = 3
LR = 0.1


def mlp_run(ctx, validate_between_epochs=False):
    inputs, labels = _train.classification(256)
    test_inputs, test_labels = _train.classification(128, seed=12)
    model = _train.mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=32, shuffle=True,
                        **ctx.loader_kwargs())
    # The mistake this stands for: a shuffled val loader, and the model left in
    # train mode, so validation draws dropout masks and a permutation.
    val_loader = DataLoader(TensorDataset(test_inputs, test_labels), batch_size=64,
                            shuffle=True)
    for epoch in range(EPOCHS):
        loss = _train.train_epoch(model, loader, optimizer)
        if validate_between_epochs and epoch < EPOCHS - 1:
            with torch.no_grad():
                for batch, _ in val_loader:
                    model(batch)
    return {"final_loss": loss, "accuracy": _train.accuracy(model, test_inputs, test_labels),
            "weights": fingerprint(_train.weights(model))}


@scenario("train.mlp")
def mlp(ctx):
    """MLP with dropout, shuffled loader, SGD: loss, held-out accuracy, weights."""
    return mlp_run(ctx)


@scenario("train.mlp_val_between_epochs")
def mlp_val_between_epochs(ctx):
    """train.mlp with a validation pass between epochs that draws from the RNG."""
    return mlp_run(ctx, validate_between_epochs=True)


def random_flip_shift(batch):
    """GPU-style tensor augmentation: per-sample flip and a shift of up to 2 px."""
    flip = torch.rand(batch.shape[0]) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
    padded = nn.functional.pad(batch, (2, 2, 2, 2))
    size = batch.shape[-1]
    out = torch.empty_like(batch)
    offsets = torch.randint(0, 5, (batch.shape[0], 2))
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, dy:dy + size, dx:dx + size]
    return out


@scenario("train.cnn")
def cnn(ctx):
    """A small conv net with BatchNorm, trained with random tensor augmentation."""
    images, labels = _train.square_images(128)
    test_images, test_labels = _train.square_images(64, seed=22)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        nn.Linear(16, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True,
                        **ctx.loader_kwargs())
    for _ in range(EPOCHS):
        loss = _train.train_epoch(model, loader, optimizer, augment=random_flip_shift)
    running = [t for name, t in _train.weights(model) if "running" in name]
    return {"final_loss": loss, "accuracy": _train.accuracy(model, test_images, test_labels),
            "weights": fingerprint(_train.weights(model)),
            "running_stats": fingerprint(running)}


def twins(ctx, reseed_each):
    """Two MLPs trained side by side, one batch each in turn, on one shared RNG."""
    inputs, labels = _train.classification(256)
    models = []
    for _ in range(2):
        if reseed_each:
            ctx.reseed()  # "seed before building each model", as users do
        models.append(_train.mlp())
    init_agree = fingerprint(_train.weights(models[0])) == fingerprint(_train.weights(models[1]))
    optimizers = [torch.optim.SGD(m.parameters(), lr=LR) for m in models]
    loaders = [DataLoader(TensorDataset(inputs, labels), batch_size=32, shuffle=True,
                          **ctx.loader_kwargs()) for _ in models]
    for _ in range(2):
        for model in models:
            model.train()
        for (a_x, a_y), (b_x, b_y) in zip(*loaders):
            for model, optimizer, x, y in ((models[0], optimizers[0], a_x, a_y),
                                           (models[1], optimizers[1], b_x, b_y)):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
    gap = max((a - b).abs().max().item() for a, b in zip(models[0].parameters(),
                                                         models[1].parameters()))
    return {"init_agree": init_agree, "twins_agree": gap == 0.0, "weight_gap": gap,
            "weights": fingerprint([_train.weights(m) for m in models])}


@scenario("train.twin_models_global_seed")
def twin_models_global_seed(ctx):
    """Both twins built after the program's one seeding: the second init follows the first."""
    return twins(ctx, reseed_each=False)


@scenario("train.twin_models_own_seed")
def twin_models_own_seed(ctx):
    """Each twin built right after reseeding; dropout and shuffling still share one stream."""
    return twins(ctx, reseed_each=True)


@scenario("train.deepcopy_optimizer")
def deepcopy_optimizer(ctx):
    """copy.deepcopy(optimizer) copies the parameters it holds: the copy steps
    orphans, so the copied model never trains. Copying (model, optimizer)
    together keeps them linked."""
    inputs, labels = _train.classification(64)
    model = _train.mlp(dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    original = fingerprint(_train.weights(model))

    def train_steps(net, opt):
        for _ in range(5):
            opt.zero_grad()
            nn.functional.cross_entropy(net(inputs), labels).backward()
            opt.step()
        return fingerprint(_train.weights(net))

    copied_model, copied_optimizer = copy.deepcopy(model), copy.deepcopy(optimizer)
    copy_start = fingerprint(_train.weights(copied_model))
    copy_end = train_steps(copied_model, copied_optimizer)
    joint_model, joint_optimizer = copy.deepcopy((model, optimizer))
    joint_end = train_steps(joint_model, joint_optimizer)
    return {"copy_trains_its_model": copy_end != copy_start,
            "original_moved": fingerprint(_train.weights(model)) != original,
            "joint_copy_trains": joint_end != copy_start,
            "weights": fingerprint(joint_end)}


class PairedAugmentation(Dataset):
    """The original report's dataset: reseed, transform the image; reseed with the
    same seed, transform the mask."""

    def __init__(self, ctx, pairs, transform):
        self.ctx = ctx
        self.pairs = pairs
        self.transform = transform

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        image, mask = self.pairs[index]
        seed = np.random.randint(2147483647)
        self.ctx.reseed(seed)
        image = self.transform(image)
        self.ctx.reseed(seed)
        mask = self.transform(mask)
        return _train.to_tensors(image, mask)


# The segmentation net starts from fixed weights, as fine-tuning from a checkpoint does.
# From torch's own random init (unseeded under `python` seeding) 10 of 100 runs with
# matched pairs at tv 0.6 collapsed to predicting background (0.698), so the report's
# flagship change rested on luck; from these weights 0 of 140 runs collapse there, while
# 138 of 140 at tv 0.7, 100 of 100 at 0.8 and 40 of 40 at the newest still do (measured
# over torch seeds; docs/answers.md).
WEIGHTS_SEED = 2


@scenario("train.segmentation_pairs", torchvision=">=0.3", goals={"pixel_accuracy": "up"})
def segmentation_pairs(ctx):
    """A tiny segmentation run with the paired-reseed idiom and v1 geometric
    transforms, fine-tuned from fixed weights; pixel accuracy on fixed, unaugmented
    held-out pairs."""
    transform = T.Compose([T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
                           T.RandomRotation(180)])
    train_set = PairedAugmentation(ctx, _train.blob_images(48), transform)
    held_out = [_train.to_tensors(*pair) for pair in _train.blob_images(16, seed=32)]
    test_images = torch.stack([image for image, _ in held_out])
    test_masks = torch.stack([mask for _, mask in held_out])
    model = _train.segmenter(WEIGHTS_SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    loader = DataLoader(train_set, batch_size=8, shuffle=True, **ctx.loader_kwargs())
    for _ in range(EPOCHS):
        model.train()
        for images, masks in loader:
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(model(images), masks)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = (model(test_images) > 0).float()
    # What a net that predicts background everywhere scores: the floor pixel_accuracy
    # falls to when the masks no longer match their images.
    background = (test_masks == 0).float().mean().item()
    return {"pixel_accuracy": (predicted == test_masks).float().mean().item(),
            "background_accuracy": background,
            "final_loss": loss.item(), "weights": fingerprint(_train.weights(model))}
