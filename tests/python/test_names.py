"""PyTorch's names and signatures where genc has the same concept: requires_grad_(),
full(size, fill_value), permute/unsqueeze/squeeze with autograd, float()/to(dtype) for
float32, @genc.no_grad with or without parentheses, set_grad_enabled as a context manager,
unknown keyword arguments refused."""
import numpy as np
import pytest

import genc


def test_requires_grad_and_dtype_methods():
    t = genc.zeros(2)
    assert t.requires_grad_() is t and t.requires_grad
    assert not t.requires_grad_(False).requires_grad
    assert t.float() is t and t.to("float32") is t and t.to(np.float32) is t and t.to() is t
    c = t.to("float32", copy=True)
    assert c is not t and c.data_ptr != t.data_ptr
    for bad in ("float64", np.int32, "bfloat16"):
        with pytest.raises(TypeError, match="float32 only"):
            t.to(bad)


def test_full_both_spellings():
    assert genc.full((2, 3), 7.0).tolist() == [[7.0] * 3] * 2
    assert genc.full([2], fill_value=1.5).tolist() == [1.5, 1.5]
    assert genc.full(2, 2, value=7).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert genc.full((2,), 1.0, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="both"):
        genc.full((2,), fill_value=1, value=2)
    with pytest.raises(TypeError):
        genc.full((2,), 1.0, bogus=1)


def test_permute_matches_numpy_and_backpropagates():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = genc.tensor(a, requires_grad=True)
    for order in [(2, 0, 1), (1, 2, 0), (0, 1, 2), (2, 1, 0)]:
        assert np.array_equal(np.asarray(x.permute(*order).contiguous()), a.transpose(order))
    assert x.permute((2, 0, 1)).shape == (4, 2, 3)
    w = genc.tensor(np.arange(24, dtype=np.float32).reshape(4, 2, 3))
    (x.permute(2, 0, 1) * w).sum().backward()
    assert np.array_equal(np.asarray(x.grad), np.asarray(w).transpose(1, 2, 0))
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(IndexError):
        x.permute(0, 1, 3)


def test_unsqueeze_squeeze():
    x = genc.randn(2, 3, requires_grad=True)
    assert x.unsqueeze(0).shape == (1, 2, 3) and x.unsqueeze(-1).shape == (2, 3, 1) and x.unsqueeze(1).shape == (2, 1, 3)
    y = genc.zeros(1, 3, 1)
    assert y.squeeze().shape == (3,) and y.squeeze(0).shape == (3, 1) and y.squeeze(1).shape == (1, 3, 1)
    assert genc.zeros(1, 1).squeeze().shape == ()  # every size-1 dim squeezed: 0-d
    (x.unsqueeze(0).squeeze(0) * 2).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2
    with pytest.raises(ValueError, match="4 dims"):
        genc.zeros(1, 1, 1, 1).unsqueeze(0)


def test_no_grad_with_and_without_parentheses():
    x = genc.tensor([1.0], requires_grad=True)

    @genc.no_grad
    def bare(v):
        return v * 2

    @genc.no_grad()
    def called(v):
        return v * 2

    assert callable(bare) and bare.__name__ == "bare"
    assert not bare(x).requires_grad and not called(x).requires_grad
    assert (x * 2).requires_grad
    with pytest.raises(TypeError):
        genc.no_grad(1)
    with pytest.raises(TypeError):
        genc.enable_grad(mode=True)


def test_set_grad_enabled_is_a_context_manager():
    x = genc.tensor([1.0], requires_grad=True)
    with genc.set_grad_enabled(False):
        assert not genc.is_grad_enabled() and not (x * 2).requires_grad
    assert genc.is_grad_enabled()
    genc.set_grad_enabled(False)  # a plain call switches at once, as PyTorch's
    try:
        assert not genc.is_grad_enabled()
    finally:
        genc.set_grad_enabled(True)
    assert genc.is_grad_enabled()
