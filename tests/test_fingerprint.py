import numpy as np
import pytest
from PIL import Image

from _rngdrift.harness.cell.fingerprint import Fingerprint, fingerprint


def test_equal_content_equal_fingerprint_regardless_of_layout():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert fingerprint(a) == fingerprint(np.asfortranarray(a))
    assert fingerprint(a) == fingerprint(a.astype(">f4"))  # byte order does not matter


def test_dtype_shape_and_values_all_count():
    a = np.arange(12, dtype=np.float32)
    assert fingerprint(a) != fingerprint(a.astype(np.float64))
    assert fingerprint(a) != fingerprint(a.reshape(3, 4))
    b = a.copy()
    b[5] = np.nextafter(b[5], 100, dtype=np.float32)
    assert fingerprint(a) != fingerprint(b)


def test_plain_data_is_structural():
    assert fingerprint([1, 2.0, "x"]) == fingerprint((1, 2.0, "x"))
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint(0.1) != fingerprint(0.1 + 1e-17 * 2)
    assert fingerprint(1) != fingerprint(1.0) != fingerprint("1")


def test_images_hash_mode_and_pixels():
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels, "RGB")
    assert fingerprint(rgb) == fingerprint(Image.fromarray(pixels.copy(), "RGB"))
    assert fingerprint(rgb) != fingerprint(rgb.convert("L"))


def test_result_is_short_hex_fingerprint():
    fp = fingerprint(b"abc")
    assert isinstance(fp, Fingerprint) and len(fp) == 16
    int(fp, 16)


def test_tensors_match_their_numpy_view():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert fingerprint(t) == fingerprint(t.numpy())
    assert fingerprint(t.t()) == fingerprint(t.t().contiguous())
    assert fingerprint(t.to(torch.bfloat16)) == fingerprint(t.to(torch.bfloat16))


def test_unsupported_type_is_an_error():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        fingerprint(object())
