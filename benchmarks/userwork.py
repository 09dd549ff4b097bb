"""A user's function for the bench's ``usercode`` stage (``--call``): a few hundred
milliseconds of the kind of work a team's code does (a DataLoader without workers,
an MLP with dropout, SGD), drawing from Python's, NumPy's and torch's generators.
Python 3.7+: it runs in the cells."""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def train_steps(steps=400):
    points = torch.from_numpy(np.random.RandomState(0).randn(512, 32).astype(np.float32))
    labels = torch.from_numpy(np.random.RandomState(1).randint(0, 4, 512))
    loader = DataLoader(TensorDataset(points, labels), batch_size=32, shuffle=True)
    model = torch.nn.Sequential(torch.nn.Linear(32, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(128, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    done = 0
    while done < steps:
        for x, y in loader:
            x = x + 0.01 * float(np.random.rand()) + 0.01 * random.random()
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return {"loss": loss.item(), "weights": model.state_dict()}
