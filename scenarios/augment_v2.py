"""The same random transforms through ``torchvision.transforms.v2`` (tv 0.15+,
beta until 0.17), so v1 and v2 can be compared within one cell."""
from . import _augment


def _v2():
    import torchvision
    # 0.15/0.16 warn on import that v2 is beta; the warning is noise here.
    if hasattr(torchvision, "disable_beta_transforms_warning"):
        torchvision.disable_beta_transforms_warning()
    import torchvision.transforms.v2 as T2
    return T2


_augment.register("augment_v2", _v2, since="0.15")
