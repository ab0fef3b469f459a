"""Tensors: numpy round trips without copies, shape tuples, tolist, views, read-only memory, repr."""
import numpy as np
import pytest

import genc


def addr(a):
    return a.__array_interface__["data"][0]


def test_numpy_to_genc_is_zero_copy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = genc.from_numpy(a)
    assert t.data_ptr == addr(a)
    assert t.shape == (3, 4) and isinstance(t.shape, tuple)
    a[1, 2] = 100  # numpy writes show through
    assert t.tolist()[1][2] == 100.0


def test_genc_to_numpy_is_zero_copy_and_round_trips():
    t = genc.randn(2, 3)
    a = np.asarray(t)
    assert addr(a) == t.data_ptr
    t2 = genc.from_numpy(a)
    assert t2.data_ptr == t.data_ptr
    assert addr(t.numpy()) == t.data_ptr
    with genc.no_grad():
        t[0, 0] = 7
    assert a[0, 0] == 7


def test_strided_numpy_view_and_conversions():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    t = genc.from_numpy(a)  # genc.tensor copies (PyTorch's rule); from_numpy shares
    assert t.data_ptr == addr(a) and t.strides == (6, 2)
    assert t.tolist() == a.tolist()
    d = genc.tensor(np.arange(3, dtype=np.float64))  # other dtypes are converted (a copy)
    assert d.tolist() == [0.0, 1.0, 2.0] and d.dtype == "float32"


def test_tolist_nested_and_item():
    t = genc.tensor([[1, 2], [3, 4]])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert genc.tensor([5.0]).item() == 5.0
    with pytest.raises(RuntimeError):
        t.item()


def test_indexing_gives_views():
    t = genc.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    row = t[1]
    assert row.shape == (3, 4) and row.data_ptr == t.data_ptr + 12 * 4
    col = t[:, 1, ::2]
    assert col.shape == (2, 2) and col.tolist() == [[4.0, 6.0], [16.0, 18.0]]
    assert t[..., 3].tolist() == [[3.0, 7.0, 11.0], [15.0, 19.0, 23.0]]
    assert t[-1, -1, -1].tolist() == 23.0
    v0 = t._version
    t[0, 0] = 0.5  # writing through a view changes the base and its version
    assert t.tolist()[0][0] == [0.5] * 4 and t._version == v0 + 1
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(TypeError):
        t["a"]


def test_read_only_numpy_memory_stays_read_only():
    a = np.ones(4, dtype=np.float32)
    a.setflags(write=False)
    t = genc.from_numpy(a)  # shared, so read-only (genc.tensor would copy)
    assert t.readonly
    with pytest.raises(ValueError, match="read-only"):
        t.add_(1)
    with pytest.raises(ValueError):
        t[0] = 3
    assert not np.asarray(t).flags.writeable


def test_frozen_tensor_rejects_writes_and_numpy_writes():
    t = genc.zeros(3)
    t.readonly = True
    with pytest.raises(ValueError, match="read-only"):
        t.fill_(1)
    with pytest.raises(ValueError):
        np.asarray(t)[0] = 1


def test_repr_shows_shape_dtype_and_values():
    r = repr(genc.tensor([[1.5, 2.0]]))
    assert "shape=(1, 2)" in r and "float32" in r and "1.5" in r
    big = repr(genc.randn(50, 50))
    assert "mean=" in big and "std=" in big and "..." in big
    p = genc.Parameter(genc.zeros(2))
    assert "requires_grad=True" in repr(p)


def test_bad_shapes_raise_value_error_with_genc_message():
    with pytest.raises(ValueError, match="matmul"):
        genc.randn(2, 3) @ genc.randn(4, 5)
    with pytest.raises(ValueError):
        genc.zeros(0, 3)
    with pytest.raises(ValueError):
        genc.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        genc.tensor(["a"])
    with pytest.raises(TypeError):
        genc.randn(2) + "x"


def test_pickle_deepcopy_and_numpy_operands():
    import copy
    import pickle
    p = genc.Parameter(genc.randn(2, 3))
    q = pickle.loads(pickle.dumps(p))
    assert q.tolist() == p.tolist() and q.requires_grad and q.is_parameter and q.data_ptr != p.data_ptr
    lin = genc.Linear(3, 2)
    lin.eval()
    c = copy.deepcopy(lin)
    assert c.weight.tolist() == lin.weight.tolist() and c.weight.data_ptr != lin.weight.data_ptr and not c.training
    r = np.ones((2, 3), dtype=np.float32) * p  # numpy defers to genc: a tensor with autograd
    assert isinstance(r, genc.Tensor) and r.grad_fn is not None


def test_iteration_and_truth_value():
    t = genc.tensor([[1, 2], [3, 4]])
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]] and len(t) == 2
    assert bool(genc.tensor([2.0])) and not bool(genc.tensor([0.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
