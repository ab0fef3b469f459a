"""0-d tensors, as in PyTorch: a loss, a full reduction, an element picked by ints, a number
given to genc.tensor and a 0-d numpy array all have shape () from Python, work as numbers
(item/float/int/format), export a 0-d buffer to numpy, keep autograd (their .grad is 0-d
too) and survive clone/detach/pickle/save. Every op on 0-d inputs alone gives 0-d; an op
that needs dims (matmul, transpose, concat, expand, indexing) refuses a 0-d tensor."""
import copy
import pickle

import numpy as np
import pytest

import genc


def test_reductions_and_losses_are_0d():
    t = genc.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.sum().shape == () and t.mean().shape == () and t.sum().ndim == 0
    assert t.sum(dim=(0, 1)).shape == ()
    assert t.sum(0).shape == (2,) and t.sum(0, keepdim=True).shape == (1, 2)
    assert genc.tensor([1.0, 2.0]).sum(0).shape == ()  # a 1-d tensor over its dim
    assert genc.cross_entropy(genc.randn(3, 5), [0, 1, 4]).shape == ()
    assert genc.mse_loss(t, t * 2).shape == ()
    assert genc.Linear(3, 1)(genc.ones(2, 3)).square().mean().shape == ()


def test_int_indices_give_0d_views():
    t = genc.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = t[1, 0]
    assert e.shape == () and e.item() == 3.0 and e.data_ptr == t.data_ptr + 2 * 4
    assert [x.shape for x in genc.tensor([5.0, 6.0])] == [(), ()]  # iterating a 1-d tensor
    assert t[0].shape == (2,) and t[0:1, 0].shape == (1,)


def test_numbers_and_0d_arrays_are_0d():
    assert genc.tensor(2.5).shape == () and genc.tensor(2.5).item() == 2.5
    assert genc.zeros(()).shape == () and genc.full((), 7.0).item() == 7.0
    a = np.array(1.5, dtype=np.float32)
    shared = genc.from_numpy(a)
    assert shared.shape == ()
    a[()] = 4.0
    assert shared.item() == 4.0  # from_numpy shares a 0-d array too
    assert genc.tensor(np.float64(3.0)).shape == ()


def test_0d_as_a_number():
    s = genc.tensor([0.5, 1.25]).sum()
    assert float(s) == 1.75 and s.item() == 1.75 and int(s) == 1
    assert f"{s:.3f}" == "1.750" and bool(s)
    assert s.tolist() == 1.75
    assert repr(s).startswith("tensor(1.75, shape=()")
    assert s.size() == () and s.numel() == 1 and s.strides == ()


def test_numpy_sees_0d():
    s = genc.tensor([1.0, 2.0]).sum()
    a = np.asarray(s)
    assert a.shape == () and a.dtype == np.float32 and float(a) == 3.0
    assert memoryview(s).ndim == 0 and memoryview(s).shape == ()
    assert s.numpy().shape == ()
    assert np.exp(s).shape == ()


def test_ops_on_0d():
    s = genc.tensor(2.0)
    assert (s * s).shape == () and (s + 1).shape == () and (1 - s).shape == () and (-s).shape == ()
    assert (s ** 3).shape == () and s.exp().shape == () and genc.tanh(s).shape == ()
    assert (s == 2).shape == () and (s < 3).item() == 1.0
    v = genc.tensor([1.0, 2.0, 3.0])
    assert (s * v).shape == (3,) and (s * v).tolist() == [2.0, 4.0, 6.0]
    assert (s + genc.tensor([1.0])).shape == (1,)  # broadcast with (1,) keeps the dim, as PyTorch
    assert (v == s).tolist() == [0.0, 1.0, 0.0]


def test_reshape_squeeze_unsqueeze_through_0d():
    v = genc.tensor([3.0])
    assert v.reshape(()).shape == () and v.squeeze().shape == () and v.view(()).shape == ()
    s = v.reshape(())
    assert s.reshape(1).shape == (1,) and s.reshape(1, 1).shape == (1, 1) and s.unsqueeze(0).shape == (1,)
    assert s.squeeze().shape == () and s.squeeze(0).shape == () and s.permute().shape == ()
    assert s.sum().shape == () and s.sum(0).shape == () and s.mean(-1).shape == ()
    with pytest.raises(ValueError, match="shape \\(\\) is invalid for 2"):
        genc.tensor([1.0, 2.0]).reshape(())


def test_backward_through_and_into_0d():
    x = genc.tensor(3.0, requires_grad=True)
    w = genc.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * w).sum() + x * x
    assert loss.shape == ()
    loss.backward()
    assert x.grad.shape == () and x.grad.item() == pytest.approx(3.0 + 6.0)
    assert w.grad.tolist() == [3.0, 3.0]
    p = genc.Parameter(genc.tensor(0.5))
    opt = genc.SGD([p], lr=0.1)
    (p * p).backward()
    opt.step()
    assert p.shape == () and p.grad.shape == () and p.item() == pytest.approx(0.5 - 0.1 * 1.0)


def test_grad_assignment_keeps_the_shape():
    x = genc.tensor(1.0, requires_grad=True)
    x.grad = genc.tensor(2.0)
    with pytest.raises(TypeError, match="same shape"):
        x.grad = genc.tensor([2.0])


def test_0d_refuses_dims_and_indices():
    s = genc.tensor(1.0)
    for f in (lambda: s @ s, lambda: s.transpose(0, 0), lambda: genc.concat([s, s]), lambda: genc.expand(s, 0, 2),
              lambda: s[0], lambda: s[0:1], lambda: s.size(0)):
        with pytest.raises(IndexError):
            f()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d"):
        len(s)
    with pytest.raises(TypeError, match="iteration over a 0-d"):
        list(s)
    assert s[()].shape == () and s[...].shape == ()
    s[()] = 5.0
    assert s.item() == 5.0


def test_copies_keep_0d(tmp_path):
    s = genc.tensor(1.5, requires_grad=True)
    for c in (s.clone(), s.detach(), copy.deepcopy(s), pickle.loads(pickle.dumps(s)), genc.Tensor(s), genc.tensor(s)):
        assert c.shape == () and c.item() == 1.5
    assert pickle.loads(pickle.dumps(s)).requires_grad
    genc.save({"s": s, "v": genc.tensor([1.0])}, str(tmp_path / "x.safetensors"))
    back = genc.load(str(tmp_path / "x.safetensors"))
    assert back["s"].shape == () and back["s"].item() == 1.5 and back["v"].shape == (1,)


def test_module_with_a_0d_parameter_round_trips(tmp_path):
    class Scale(genc.Module):
        def __init__(self):
            super().__init__()
            self.k = genc.Parameter(genc.tensor(2.0))

        def forward(self, x):
            return x * self.k

    m = Scale()
    with genc.no_grad():
        m.k.fill_(3.0)
    m.save(str(tmp_path / "m.safetensors"))
    m2 = Scale().load(str(tmp_path / "m.safetensors"))
    assert m2.k.shape == () and m2.k.item() == 3.0
