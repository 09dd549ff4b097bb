"""Train a small classifier, written the way the PyTorch examples are (pytorch/examples
mnist/main.py): argparse, ``torch.manual_seed(args.seed)``, a DataLoader with worker
processes, dropout, SGD, a test pass that prints its accuracy.

The data are synthetic (Gaussian clusters, no download), jittered with NumPy in
``__getitem__`` as many augmentation pipelines do. The script seeds torch only, as
the example it is modelled on does.

    python examples/train.py --epochs 2

rngdrift runs it unmodified in every cell and seeding mode (README, "Your code as it
is"): ``--script "python examples/train.py --epochs 2"``, reading the accuracy from
what it prints (``--metric``) and the values it records.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

try:  # rngdrift compares what is recorded; without rngdrift this is a no-op
    from rngdrift import record
except ImportError:
    def record(name, value):
        return value

FEATURES = 16
CLASSES = 4


class Clusters(Dataset):
    """Points around fixed class centres; training items get NumPy jitter."""

    def __init__(self, count, seed, jitter=0.0):
        rng = np.random.RandomState(seed)  # the data themselves are fixed
        centres = np.random.RandomState(0).randn(CLASSES, FEATURES)
        self.labels = rng.randint(0, CLASSES, size=count)
        self.points = (centres[self.labels] + 1.5 * rng.randn(count, FEATURES)).astype(np.float32)
        self.jitter = jitter

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        x = self.points[index]
        if self.jitter:
            x = x + np.random.normal(0.0, self.jitter, FEATURES).astype(np.float32)
        return torch.from_numpy(x), int(self.labels[index])


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(FEATURES, 64)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(64, CLASSES)

    def forward(self, x):
        x = self.dropout(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print("Train Epoch: {} [{}/{}]\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(loader.dataset), loss.item()))


def test(model, loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(dim=1).eq(target).sum().item()
    test_loss /= len(loader.dataset)
    print("\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.2f}%)\n".format(
        test_loss, correct, len(loader.dataset), 100.0 * correct / len(loader.dataset)))
    return test_loss


def main():
    parser = argparse.ArgumentParser(description="Synthetic clusters classifier")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--epochs", type=int, default=2, metavar="N")
    parser.add_argument("--lr", type=float, default=0.05, metavar="LR")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--workers", type=int, default=2, metavar="N")
    parser.add_argument("--log-interval", type=int, default=4, metavar="N")
    args = parser.parse_args()

    torch.manual_seed(args.seed)

    train_loader = DataLoader(Clusters(512, seed=1, jitter=0.5), batch_size=args.batch_size,
                              shuffle=True, num_workers=args.workers)
    test_loader = DataLoader(Clusters(256, seed=2), batch_size=256)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_loader, optimizer, epoch)
        test_loss = test(model, test_loader)
    record("test_loss", test_loss)
    record("weights", model.state_dict())


if __name__ == "__main__":
    main()
