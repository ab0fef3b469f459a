"""Subclassing genc.Tensor: T(data) is a T whose __init__ runs; ops, indexing, clone and
detach give the class of their first subclass input without running __init__ or copying
attributes (PyTorch's default __torch_function__ rule), with autograd; pickle and deepcopy
keep the class and attributes, cycles through it are collected, and layouts that cannot
mix are refused when the class is made."""
import copy
import gc
import pickle
import weakref

import numpy as np
import pytest

import genc


class Tagged(genc.Tensor):
    inits = 0

    def __init__(self, data, requires_grad=False, tag="none"):
        Tagged.inits += 1
        self.tag = tag

    def __new__(cls, data, requires_grad=False, tag="none"):
        return super().__new__(cls, data, requires_grad)

    def double(self):
        return self * 2


def test_construction_gives_the_subclass_and_runs_init():
    n = Tagged.inits
    t = Tagged([1.0, 2.0], requires_grad=True, tag="w")
    assert type(t) is Tagged and isinstance(t, genc.Tensor) and t.tag == "w" and Tagged.inits == n + 1
    assert t.requires_grad and t.shape == (2,) and t.tolist() == [1.0, 2.0]
    s = Tagged(3.0)
    assert type(s) is Tagged and s.shape == ()
    a = np.ones(3, dtype=np.float32)
    assert type(Tagged(a)) is Tagged


def test_ops_and_autograd_on_a_subclass():
    t = Tagged([1.0, 2.0, 3.0], requires_grad=True, tag="input")
    n = Tagged.inits
    y = t.double().square().sum()
    assert type(y) is Tagged and y.item() == 56.0 and y.shape == () and y.grad_fn is not None
    assert Tagged.inits == n and "tag" not in vars(y)  # results: the class, not __init__ or attributes
    y.backward()
    assert t.grad.tolist() == [8.0, 16.0, 24.0]
    m = genc.matmul(genc.ones(1, 2), Tagged([[1.0], [2.0]]))  # the first subclass input, wherever it is
    assert type(m) is Tagged and m.tolist() == [[3.0]]
    for r in (t[1:], t.detach(), t.clone(), t.reshape(3, 1), t == 2.0, genc.relu(t), t + genc.ones(3)):
        assert type(r) is Tagged, r
    assert type(genc.ones(2) * 2) is genc.Tensor


def test_pickle_and_deepcopy_keep_class_and_attributes():
    t = Tagged([1.5, -2.0], requires_grad=True, tag="kept")
    t.extra = {"k": [1, 2]}
    for c in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert type(c) is Tagged and c.tag == "kept" and c.extra == {"k": [1, 2]}
        assert c.tolist() == [1.5, -2.0] and c.requires_grad and c.data_ptr != t.data_ptr
    d = copy.deepcopy(t)
    d.extra["k"].append(3)
    assert t.extra == {"k": [1, 2]}  # a deep copy of the attributes too


def test_a_cycle_through_a_subclass_is_collected():
    class Holder(genc.Tensor):
        pass

    h = Holder([1.0])
    h.me = h
    r = weakref.ref(h)
    del h
    gc.collect()
    assert r() is None


class Plain(genc.Tensor):
    pass


def test_plain_subclass_without_init():
    p = Plain([1.0, 2.0], requires_grad=True)
    assert type(p) is Plain and p.requires_grad
    assert type(pickle.loads(pickle.dumps(p))) is Plain


def test_incompatible_layouts_are_refused_at_class_creation():
    with pytest.raises(TypeError):
        class Both(genc.Tensor, genc.Module):  # noqa: F841
            pass
    with pytest.raises(TypeError):
        class WithStorage(genc.Tensor, bytearray):  # noqa: F841
            pass


def test_subclass_new_refuses_bad_data():
    with pytest.raises(TypeError):
        Tagged(object())
    with pytest.raises(ValueError):
        Tagged([[1.0], [2.0, 3.0]])
