"""Optimiser state as torch.optim has it: state_dict / load_state_dict (AdamW moments and
SGD momentum, per parameter, with each group's settings), pickle and copy.deepcopy; a
state of the wrong shape is refused before anything changes."""
import copy
import pickle

import numpy as np
import pytest

import genc


def _params():
    return [genc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7, requires_grad=True),
            genc.tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), requires_grad=True)]


def _loss(ps):
    w, b = ps
    return ((w * w).sum() + (w.sum(dim=0) * b).sum())


def _steps(opt, ps, n):
    for _ in range(n):
        opt.zero_grad()
        _loss(ps).backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: genc.AdamW([{"params": ps[:1], "lr": 0.05}, {"params": ps[1:]}], lr=0.01),
                                  lambda ps: genc.SGD(ps, lr=0.05, momentum=0.9)])
def test_state_dict_resumes_exactly(make):
    a = _params()
    opt = make(a)
    _steps(opt, a, 3)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["state"][0]["step"] == 3
    b = [p.detach().clone() for p in a]
    for p in b:
        p.requires_grad = True
    fresh = make(b)
    fresh.load_state_dict(sd)
    _steps(opt, a, 2)
    _steps(fresh, b, 2)
    for p, q in zip(a, b):
        assert np.array_equal(np.asarray(p), np.asarray(q))
    # Without the state the two runs part: the check can fail.
    c = [p.detach().clone() for p in b]
    for p in c:
        p.requires_grad = True
    _steps(make(c), c, 1)
    _steps(fresh, b, 1)
    assert not all(np.array_equal(np.asarray(p), np.asarray(q)) for p, q in zip(b, c))


def test_pickle_and_deepcopy():
    ps = _params()
    opt = genc.AdamW(ps, lr=0.02)
    _steps(opt, ps, 2)
    back = pickle.loads(pickle.dumps(opt))
    assert back.steps == 2 and back.param_groups[0]["lr"] == 0.02
    both = copy.deepcopy({"params": ps, "opt": opt})
    assert both["opt"].params[0] is both["params"][0]
    _steps(opt, ps, 1)
    _steps(both["opt"], both["params"], 1)
    assert np.array_equal(np.asarray(ps[0]), np.asarray(both["params"][0]))


def test_bad_state_is_refused():
    ps = _params()
    opt = genc.AdamW(ps)
    _steps(opt, ps, 1)
    sd = opt.state_dict()
    sd["state"][1]["exp_avg"] = genc.zeros(4)
    other = genc.AdamW(_params())
    with pytest.raises(ValueError, match="exp_avg: expected a Tensor of shape"):
        other.load_state_dict(sd)
    assert other.steps == 0
    with pytest.raises(ValueError, match="groups or their sizes differ"):
        genc.AdamW(_params()[:1]).load_state_dict(opt.state_dict())
    core = opt._cores[0]
    with pytest.raises(ValueError, match="optimiser state"):
        core._set_state(1, (b"x",), (None,))
