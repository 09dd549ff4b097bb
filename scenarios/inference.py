"""Inference: randomly initialised torchvision models in eval mode.

No weights are ever downloaded: every builder is called with its "no weights"
spelling for the installed torchvision (``pretrained=False`` before 0.13,
``weights=None`` from 0.13, and the same for detection backbones).
"""
import torch
import torchvision

from ..harness.cell import versions
from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from . import _train

MULTI_WEIGHT_API = ">=0.13"  # weights=/weights_backbone= replaced pretrained=


def no_weights(backbone=False):
    """Builder keyword arguments that load nothing, in this torchvision's spelling."""
    if versions.satisfies(torchvision.__version__, MULTI_WEIGHT_API):
        kwargs = {"weights": None}
        if backbone:
            kwargs["weights_backbone"] = None
    else:
        kwargs = {"pretrained": False}
        if backbone:
            kwargs["pretrained_backbone"] = False
    return kwargs


def classifier():
    # mobilenet_v2: BatchNorm and dropout (what eval mode switches off) at a
    # fifth of resnet18's parameters, which keeps the default init cheap.
    return torchvision.models.mobilenet_v2(num_classes=10, **no_weights()).eval()


@scenario("inference.eval_determinism", goals={"identical": "up"})
def eval_determinism(ctx):
    """Two eval-mode forward passes agree; a model rebuilt after reseeding agrees
    with the first only where the mode reseeds torch."""
    images = torch.from_numpy(_train.recipe(41).rand(2, 3, 64, 64).astype("float32"))
    model = classifier()
    init_weights = fingerprint(_train.weights(model))
    with torch.no_grad():
        first, second = model(images), model(images)
    ctx.reseed()  # a re-run of the same program in the same process
    rebuilt = classifier()
    with torch.no_grad():
        rerun = rebuilt(images)
    return {"identical": torch.equal(first, second),
            "rerun_identical": torch.equal(first, rerun),
            "init_weights": init_weights, "output": fingerprint(first)}


@scenario("inference.detection", torchvision=">=0.9", goals={"identical": "up"})
def detection(ctx):
    """fasterrcnn_mobilenet_v3_large_320_fpn with random weights: two eval passes."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn
    # min_size/max_size 160: the input is resized to half the builder's 320.
    model = fasterrcnn_mobilenet_v3_large_320_fpn(num_classes=3, min_size=160, max_size=160,
                                                  **no_weights(backbone=True))
    model.eval()
    image = torch.from_numpy(_train.recipe(42).rand(3, 96, 128).astype("float32"))
    with torch.no_grad():
        first, second = model([image])[0], model([image])[0]
    same = all(torch.equal(first[key], second[key]) for key in ("boxes", "scores", "labels"))
    return {"identical": same, "detections": int(first["boxes"].shape[0]),
            "init_weights": fingerprint(_train.weights(model)),
            "output": fingerprint([first[key] for key in ("boxes", "scores", "labels")])}
