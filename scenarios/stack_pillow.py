"""Pillow: the bytes random augmentations give move with Pillow itself.

torchvision's PIL transforms hand the pixel work to Pillow, so one seed gives other
bytes where Pillow changed a kernel, a default or a library its wheels bundle. The
random draws do not move; the pixels do:

    7.0.0  RGB -> L conversion rounds (PR 4320): Grayscale, and ColorJitter's contrast
           and saturation (``augment.*``)
    7.0.0  Image.resize() without a filter uses BICUBIC, not NEAREST (PR 4255)
    9.0.0  the Linux and macOS wheels decode JPEG with libjpeg-turbo, not libjpeg

Run them across Pillow releases with ``--vary pillow=...`` (the matrix pins one).
"""
import base64
import io

import numpy as np
import torchvision.transforms as T
from PIL import Image

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from ._data import images

BATCH = 8
# A 48x48 photo-like JPEG (quality 90, 4:2:0), as a dataset ships its files: made once,
# so only its decoding can change.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4R"
    "DgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
    "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAwADADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAA"
    "AAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKT"
    "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
    "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
    "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hp"
    "anN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk"
    "5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD82rHQHUjCg9OR16Y5/T8xXSaZojmFcqS2DwVPOP8AOPXn6V0+"
    "g+ETqWoxW0MKRzHjkgA5B5J9OCeOcZwK9r0nwTpGi2whjs4LpmYky3KCR2J7Zx2wfbgHqTXm4jM6eDSU1dvov6/r"
    "5H2/A+S47iSM62HahTho5O9m/wCVW3drN9rrueL2Hh9pAgUKenzHqf69q6PT9IJCE5AYgbSABjjr6c/yr0u88J2M"
    "8IEVtHbSrkq0aBep6HHUcD+hFVtK0RzI25WztBAQcDt/kV6uXZjSxsXy6Nbo/U8RgsVkFSMa7UovZr8V5P8Ar0xb"
    "DQnVD8m/PbOMep9q6ew0NoyWZSwboGGCMcdsdyP045rfsNADEg4Y4GSq45zzwPzro9P0KOT51j4DAfM3Yc/0FfSU"
    "ppqzPucqzV3TTPFvC+iLZ6vbXIVWKFhnBycqf1613EkYMYBxuYfKeB3H45+lR2egMshCxkIB0ZRjGOnv1rdj8NG5"
    "K+W6xydOVAx7/oOlflePwlXEyjUpa20sfy54Q+JGUZJgq2WZrJwTlzxmk5LVKLi1FNp+6mmk07u9rK+SSrsFZht/"
    "vMONuc/rXR6ToIcRbo/nChtjL82cdDn6fWtHR/AyJcebLK0r7htXBVSc5B4PODXXwWn2SMpIFB+8w7g4JH6VpglP"
    "Kacq9TeWiX6v+vuZ7Pib4p5csNTnlS9qovSTvFOTWlrrmskne6V3ou5l6VoJR2QxhiCeNvY+v+e9dNp+jNK6kKUV"
    "Rwf4enXP41W3SSFNpBIAU4IH9f8A9XFej6Dpr3lhDK3DOgkODjnAJ6+306V9TleZ/XXKMo2a8z53w98Qp8RVKtGv"
    "S5JwSejumnddtLervfpY8LsdD+8uF2j+EqeD3FdNaaIXCgqSc4KjP4ZH+f8ADoNO0EZ8zAbC4+XOB+IrqLDQElKg"
    "kBj3JwTyev4V4NKotNT+IsrzRXRz1jop87ndu3buSP8AHAHNWb/wVd3EYls/LMhAJiLYORwCCeMYPfFd/p+glFDC"
    "PAUg5bPbH/1/rXRWGitId4AJTHXGcf412ThDEw9nPY/TqVWjmmHWGxF+Xut0+6+88d0z4a6zf3QEsaWkA27pXYMP"
    "TGASdwGfTp1Fey6L4aitreFIVZYYlVVBOSMY9Dycd/15rotP8Ps53MvAOQAevHr611Vj4fwRsXEnI5TPvj8h7/lm"
    "u7A4alg78l7vv/wx+o8JYLA5G5zwt+adrttN2Wy0S0u9dNdL9D//2Q==")


@scenario("pillow.jpeg_decode", torchvision=">=0.3")
def jpeg_decode(ctx):
    """A dataset of JPEG files: Pillow decodes, then RandomResizedCrop and a flip."""
    decoded = Image.open(io.BytesIO(JPEG)).convert("RGB")
    transform = T.Compose([T.RandomResizedCrop(32), T.RandomHorizontalFlip()])
    batch = [np.asarray(transform(decoded)) for _ in range(BATCH)]
    return {"decoded": fingerprint(np.asarray(decoded)), "output": fingerprint(batch)}


@scenario("pillow.resize_default", torchvision=">=0.3")
def resize_default(ctx):
    """A Dataset that resizes without naming a filter, image.resize((w, h)), then
    crops at random."""
    crop = T.RandomCrop(24)
    batch = [np.asarray(crop(image.resize((32, 32)))) for image in images(BATCH, size=48)]
    return {"output": fingerprint(batch)}
