"""numpy interop with PyTorch's copy-or-share rules: genc.tensor copies, genc.from_numpy
shares or refuses (float64, reversed strides, non-arrays), genc.asarray shares when it can;
__array__ (dtype=, copy=), ufuncs on tensors (np.exp, np.sum, array * tensor)."""
import numpy as np
import pytest

import genc


def addr(a):
    return a.__array_interface__["data"][0]


def test_tensor_copies():
    a = np.arange(4, dtype=np.float32)
    t = genc.tensor(a)
    assert t.data_ptr != addr(a)
    a[0] = 99
    assert t.tolist()[0] == 0.0
    u = genc.tensor(t, requires_grad=True)
    assert u.data_ptr != t.data_ptr and u.requires_grad and u.is_leaf


def test_from_numpy_shares():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    t = genc.from_numpy(a)
    assert t.data_ptr == addr(a) and t.strides == (6, 2)
    a[1, 1] = -5
    assert t.tolist()[1][1] == -5


@pytest.mark.parametrize("bad,err", [(np.arange(3.0), TypeError), (np.arange(3, dtype=np.float32)[::-1], ValueError),
                                     (np.arange(3, dtype=">f4"), TypeError), ([1.0, 2.0], TypeError),
                                     (np.zeros((2, 0), np.float32), ValueError)])
def test_from_numpy_refuses_what_it_cannot_share(bad, err):
    with pytest.raises(err, match="from_numpy"):
        genc.from_numpy(bad)


def test_asarray_shares_when_possible():
    a = np.arange(3, dtype=np.float32)
    assert genc.asarray(a).data_ptr == addr(a)
    t = genc.tensor([1.0])
    assert genc.asarray(t) is t
    r = a[::-1]
    assert genc.asarray(r).tolist() == [2.0, 1.0, 0.0]
    assert genc.asarray(np.arange(2.0)).tolist() == [0.0, 1.0]


def test_array_protocol():
    t = genc.tensor([1.0, 2.0])
    v = t.__array__()
    assert addr(v) == t.data_ptr
    c = t.__array__(copy=True)
    assert addr(c) != t.data_ptr and c.tolist() == [1.0, 2.0]
    assert t.__array__(np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="copy"):
        t.__array__(np.float64, copy=False)
    assert np.array(t, dtype=np.float64).tolist() == [1.0, 2.0]


def test_ufuncs_on_tensors():
    t = genc.tensor([0.0, 1.0])
    e = np.exp(t)
    assert isinstance(e, genc.Tensor) and np.allclose(e.tolist(), np.exp([0.0, 1.0]))
    assert float(np.sum(t)) == 1.0 and float(np.mean(t)) == 0.5
    assert np.allclose(np.sin(t), np.sin([0.0, 1.0]))  # no genc op: numpy's result
    assert np.add.reduce(t) == 1.0


def test_array_times_tensor_keeps_autograd():
    x = genc.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, genc.Tensor)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]
    assert (np.array([1.0, 5.0], np.float32) < genc.tensor([2.0, 2.0])).tolist() == [1.0, 0.0]


def test_sum_takes_dim_or_axis():
    t = genc.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.sum(dim=0).tolist() == [4.0, 6.0]
    assert t.sum(axis=1).tolist() == [3.0, 7.0]
    assert t.sum(0, keepdim=True).shape == (1, 2)
    assert t.mean(dim=(0, 1)).tolist() == 2.5
    assert t.sum(dim=(0, 1), keepdim=True).shape == (1, 1)
    with pytest.raises(TypeError, match="both"):
        t.sum(dim=0, axis=0)
    with pytest.raises(ValueError, match="twice"):
        t.sum(dim=(0, -2))
    with pytest.raises(IndexError):
        t.sum(dim=(0, 5))
    with pytest.raises(TypeError):
        t.sum(dim=0, bogus=1)
    with pytest.raises(TypeError, match="float32"):
        t.sum(dtype=np.float64)
