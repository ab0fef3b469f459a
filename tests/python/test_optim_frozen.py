"""Frozen parameters (requires_grad False) in an optimiser, as torch.optim treats a parameter
without a gradient: a step leaves them untouched, weight decay included, and their moments
stay as they were, whether they were frozen before the optimiser was made or after."""
import numpy as np
import pytest

import genc


def _pair():
    w = genc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7 + 0.1, requires_grad=True)
    v = genc.tensor(np.arange(6, dtype=np.float32).reshape(3, 2) / 5 - 0.3, requires_grad=True)
    return w, v


def _step(opt, w, v):
    opt.zero_grad()
    ((w.sum(dim=1) * v.sum(dim=0)).sum() + (w * w).sum()).backward()
    opt.step()


@pytest.mark.parametrize("make", [lambda ps: genc.AdamW(ps, lr=0.1, weight_decay=0.5),
                                  lambda ps: genc.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.5)])
@pytest.mark.parametrize("when", ["before", "after"])
def test_frozen_parameter_untouched(make, when):
    w, v = _pair()
    if when == "before":
        v.requires_grad = False
    opt = make([w, v])
    if when == "after":
        _step(opt, w, v)  # both move once
        v.requires_grad = False
    w0, v0 = w.numpy().copy(), v.numpy().copy()
    _step(opt, w, v)
    assert not np.array_equal(w.numpy(), w0)
    np.testing.assert_array_equal(v.numpy(), v0)  # bit for bit: no decay, no momentum


def test_unfrozen_parameter_moves_again():
    w, v = _pair()
    v.requires_grad = False
    opt = genc.AdamW([w, v], lr=0.1)
    _step(opt, w, v)
    v.requires_grad = True
    v0 = v.numpy().copy()
    _step(opt, w, v)
    assert not np.array_equal(v.numpy(), v0)
