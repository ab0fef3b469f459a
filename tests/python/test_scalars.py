"""One-element tensors as Python numbers and elementwise comparisons, with PyTorch's rules:
item()/float()/int() need exactly one element (RuntimeError otherwise), f"{loss:.4f}" formats
a one-element tensor, == != < <= > >= give a float tensor of 0./1. (genc's one dtype) with
broadcasting, and hashing stays by identity."""
import numpy as np
import pytest

import genc


def test_item_float_int_of_one_element():
    t = genc.tensor([2.75])
    assert t.item() == 2.75 and isinstance(t.item(), float)
    assert float(t) == 2.75
    assert int(t) == 2 and isinstance(int(t), int)
    assert int(genc.tensor([-2.75])) == -2  # truncation, as int(float)
    loss = (genc.tensor([1.0, 2.0, 3.0]) * 2).mean()
    assert float(loss) == 4.0


@pytest.mark.parametrize("conv", [lambda t: t.item(), float, int])
def test_more_than_one_element_is_a_clear_error(conv):
    with pytest.raises(RuntimeError, match="3 elements"):
        conv(genc.tensor([1.0, 2.0, 3.0]))


def test_int_of_nan_and_inf():
    with pytest.raises(ValueError):
        int(genc.tensor([float("nan")]))
    with pytest.raises(OverflowError):
        int(genc.tensor([float("inf")]))


def test_format_one_element():
    loss = genc.tensor([0.123456])
    assert f"{loss:.4f}" == "0.1235"
    assert f"{loss:>8.2e}" == format(float(np.float32(0.123456)), ">8.2e")
    assert format(genc.tensor([[3.0]]), "g") == "3"


def test_format_many_elements():
    t = genc.tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError, match="one-element"):
        f"{t:.3f}"


def test_comparisons_with_scalars():
    t = genc.tensor([0.0, 1.0, 2.0])
    assert (t == 0).tolist() == [1.0, 0.0, 0.0]
    assert (t != 0).tolist() == [0.0, 1.0, 1.0]
    assert (t < 1).tolist() == [1.0, 0.0, 0.0]
    assert (t <= 1).tolist() == [1.0, 1.0, 0.0]
    assert (t > 1).tolist() == [0.0, 0.0, 1.0]
    assert (t >= 1).tolist() == [0.0, 1.0, 1.0]
    assert (1 < t).tolist() == [0.0, 0.0, 1.0]  # reflected
    assert (t == 0).shape == (3,)
    assert isinstance(t == 0, genc.Tensor)


def test_comparisons_broadcast_between_tensors():
    a = genc.tensor([[1.0], [2.0], [3.0]])
    b = genc.tensor([1.0, 2.0, 3.0, 4.0])
    eq = a == b
    assert eq.shape == (3, 4)
    assert eq.tolist() == (np.array([[1.0], [2.0], [3.0]]) == np.array([1, 2, 3, 4])).astype(float).tolist()
    nc = genc.tensor([[1.0, 2.0], [3.0, 4.0]]).t()
    assert (nc > 2).tolist() == [[0.0, 1.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="broadcast"):
        genc.tensor([1.0, 2.0]) == genc.tensor([1.0, 2.0, 3.0])
    assert (genc.tensor([1.0, 5.0]) == [1.0, 2.0]).tolist() == [1.0, 0.0]


def test_comparison_has_no_gradient():
    x = genc.tensor([1.0, -1.0], requires_grad=True)
    m = x > 0
    assert not m.requires_grad and m.grad_fn is None
    (x * m).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]


def test_hash_is_identity_and_none_compares_false():
    a, b = genc.tensor([1.0]), genc.tensor([1.0])
    assert hash(a) == hash(a) and {a: 1, b: 2}[a] == 1
    assert len({a, b}) == 2
    assert (a == None) is False and (a != None) is True  # noqa: E711
    with pytest.raises(TypeError):
        a < "x"
