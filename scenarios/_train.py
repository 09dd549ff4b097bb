"""Shared pieces of the training scenarios: fixed-recipe data and tiny models.

Data comes from private RandomStates (never the global generators), so building
it does not count as RNG use; models are built by the scenarios themselves,
because their default init is part of what is measured.
"""
import numpy as np
import torch
import torch.nn as nn
from PIL import Image


def recipe(seed):
    return np.random.RandomState(seed)


def classification(count, features=16, classes=4, seed=11):
    """A learnable task: labels from a fixed linear teacher plus a little noise."""
    rng = recipe(seed)
    inputs = rng.randn(count, features).astype(np.float32)
    teacher = recipe(99).randn(features, classes)
    labels = (inputs.dot(teacher) + 0.5 * rng.randn(count, classes)).argmax(1)
    return torch.from_numpy(inputs), torch.from_numpy(labels.astype(np.int64))


def mlp(features=16, hidden=32, classes=4, dropout=0.5):
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, classes))


def train_epoch(model, loader, optimizer, augment=None):
    """One epoch of plain supervised training; the mean batch loss."""
    model.train()
    total, batches = 0.0, 0
    for inputs, labels in loader:
        if augment is not None:
            inputs = augment(inputs)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches


def accuracy(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        return (model(inputs).argmax(1) == labels).float().mean().item()


def weights(model):
    """The state dict as plain (name, tensor) pairs, ready to fingerprint."""
    return sorted(model.state_dict().items())


def square_images(count, size=16, seed=21):
    """RGB tensors labelled by the colour of a bright square somewhere in them:
    red, green, blue or white (4 classes). Flips and shifts keep the label."""
    rng = recipe(seed)
    images = rng.rand(count, 3, size, size).astype(np.float32) * 0.5
    labels = rng.randint(0, 4, size=count)
    for image, label in zip(images, labels):
        y, x = rng.randint(0, size - 4, size=2)
        channels = slice(0, 3) if label == 3 else slice(label, label + 1)
        image[channels, y:y + 4, x:x + 4] += 0.5
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def blob_images(count, size=32, seed=31):
    """(RGB image, 'L' mask) pairs: bright-red blobs on a dark textured ground.

    The mask is a function of the image (red channel above the midpoint), so a
    tiny fully convolutional net can learn it, but only from aligned pairs.
    """
    rng = recipe(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    pairs = []
    for _ in range(count):
        mask = np.zeros((size, size), dtype=bool)
        for _ in range(rng.randint(3, 6)):
            cy, cx = rng.randint(4, size - 4, size=2)
            ry, rx = rng.randint(3, 9, size=2)
            mask |= ((yy - cy) / float(ry)) ** 2 + ((xx - cx) / float(rx)) ** 2 <= 1.0
        rgb = rng.randint(0, 110, size=(size, size, 3))
        rgb[..., 0] = np.where(mask, rng.randint(150, 256, size=(size, size)), rgb[..., 0])
        pairs.append((Image.fromarray(rgb.astype(np.uint8), "RGB"),
                      Image.fromarray(mask.astype(np.uint8) * 255, "L")))
    return pairs


def nearest():
    """NEAREST in whatever form this torchvision accepts."""
    try:
        from torchvision.transforms import InterpolationMode  # tv >= 0.9
        return InterpolationMode.NEAREST
    except ImportError:
        return Image.NEAREST


def to_tensors(image, mask):
    image = torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)
    mask = torch.from_numpy((np.asarray(mask) > 127).astype(np.float32))[None]
    return image, mask


def segmenter(weights_seed=None):
    """A tiny fully convolutional net: per-pixel logits. With ``weights_seed`` its
    initial weights are a fixed checkpoint (drawn from a private generator with
    PyTorch's default bounds, 1/sqrt(fan_in)), the way fine-tuning starts; the global
    stream is consumed as for any new net."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 1, 1))
    if weights_seed is not None:
        generator = torch.Generator()
        generator.manual_seed(weights_seed)
        with torch.no_grad():
            for layer in net:
                if isinstance(layer, nn.Conv2d):
                    bound = 1.0 / (layer.weight[0].numel() ** 0.5)
                    for tensor in (layer.weight, layer.bias):
                        tensor.copy_(torch.rand(tensor.shape, generator=generator) * 2 * bound
                                     - bound)
    return net
