"""A small training loop as users write it: a Dataset with NumPy noise augmentation,
a shuffling DataLoader with two workers, dropout, SGD with momentum.

What it reports per cell and seeding mode: the last epoch's mean loss, accuracy
on clean held-out data and a fingerprint of the trained weights. The report then
shows which seeding mode makes the run repeat and where versions change it (for
instance torch 1.9 started seeding NumPy in DataLoader workers, so the noise the
two workers add stopped repeating the same draws).

    nox -s "matrix(py3.8-torch1.5.0-tv0.6.0)" "matrix(py3.11-torch2.15.0-tv0.29.2)" -- \\
        --scenarios examples/training_loop.py --only 'example.train.*'
"""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from rngdrift import fingerprint, scenario

FEATURES = 16
CLASSES = 3
EPOCHS = 3


def make_data(count, seed):
    """Gaussian clusters around fixed centres (a private RandomState: fixed data)."""
    rng = np.random.RandomState(seed)
    centres = np.random.RandomState(0).randn(CLASSES, FEATURES) * 0.5
    labels = rng.randint(0, CLASSES, size=count)
    points = centres[labels] + rng.randn(count, FEATURES)
    return points.astype(np.float32), labels.astype(np.int64)


class NoisyPoints(Dataset):
    def __init__(self, points, labels, noise=0.3):
        self.points = points
        self.labels = labels
        self.noise = noise

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        # Jitter augmentation with NumPy's global generator (in the worker process).
        x = self.points[index] + np.random.normal(0.0, self.noise, FEATURES).astype(np.float32)
        return torch.from_numpy(x), int(self.labels[index])


def build_model():
    return nn.Sequential(
        nn.Linear(FEATURES, 64), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(64, CLASSES),
    )


@scenario("example.train.mlp_dropout_workers")
def mlp_dropout_workers(ctx):
    points, labels = make_data(512, seed=1)
    loader = DataLoader(NoisyPoints(points, labels), batch_size=64, shuffle=True,
                        num_workers=2, **ctx.loader_kwargs())
    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        model.train()
        losses = []
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    test_points, test_labels = make_data(256, seed=2)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(test_points)).argmax(1).numpy()
    return {
        "final_loss": float(np.mean(losses)),
        "accuracy": float((predicted == test_labels).mean()),
        "weights": fingerprint([p.detach() for p in model.parameters()]),
    }
