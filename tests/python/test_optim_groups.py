"""Optimiser parameter groups, as torch.optim: per-group lr / weight_decay / betas /
momentum (checked step for step against torch.optim on the same gradients), param_groups
edits taking effect at the next step, add_param_group, and clear errors for malformed
groups."""
import pickle

import numpy as np
import pytest

import genc

SHAPES = [(3, 4), (4,), (2, 3)]


def _run(make_genc, make_torch, steps=4, edit=None):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    gp = [genc.Parameter(genc.tensor(a)) for a in init]
    tp = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    gopt, topt = make_genc(gp), make_torch(tp)
    for k in range(steps):
        if edit and k == steps // 2:
            edit(gopt.param_groups), edit(topt.param_groups)
        for p, q, g in zip(gp, tp, grads[k]):
            p.grad = genc.tensor(g)
            q.grad = torch.tensor(g)
        gopt.step()
        topt.step()
    for p, q in zip(gp, tp):
        # float32 tolerances of tests/reference/test_golden.py; a step here moves values by 1e-2 to 0.3
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
    return gopt


def _lr_edit(groups):
    groups[1]["lr"] = 0.3


def test_adamw_groups_match_torch():
    # genc's AdamW decays tensors of 2+ dims only, so the 1-d bias sits in a group without decay
    def groups(p):
        return [{"params": [p[0]], "weight_decay": 0.1}, {"params": [p[1]], "lr": 0.05, "weight_decay": 0.0},
                {"params": [p[2]], "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.5}]
    torch = pytest.importorskip("torch")
    opt = _run(lambda p: genc.AdamW(groups(p), lr=0.01), lambda p: torch.optim.AdamW(groups(p), lr=0.01), edit=_lr_edit)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.3, 0.01]
    assert opt.param_groups[2]["betas"] == (0.8, 0.9) and opt.param_groups[0]["eps"] == 1e-8


def test_sgd_groups_match_torch():
    def groups(p):
        return [{"params": p[:2]}, {"params": [p[2]], "lr": 0.2, "momentum": 0.9, "weight_decay": 0.01}]
    torch = pytest.importorskip("torch")
    _run(lambda p: genc.SGD(groups(p), lr=0.1), lambda p: torch.optim.SGD(groups(p), lr=0.1), edit=_lr_edit)


def test_plain_params_are_one_group_and_lr_sets_all():
    lin = genc.Linear(3, 2)
    opt = genc.SGD(lin.parameters(), lr=0.5)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == list(lin.parameters())
    assert opt.defaults == {"lr": 0.5, "momentum": 0.0, "weight_decay": 0.0}
    extra = genc.Parameter(genc.ones(2))
    opt.add_param_group({"params": extra, "lr": 1.0, "name": "extra"})  # extra keys stay, as in torch
    assert opt.param_groups[1]["name"] == "extra" and opt.params[-1] is extra
    extra.grad = genc.ones(2)
    for p in lin.parameters():
        p.grad = genc.zeros(*p.shape)
    opt.step()
    assert extra.tolist() == [0.0, 0.0]  # 1 - 1.0 * 1
    opt.lr = 0.25
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25] and opt.lr == 0.25
    opt.step()
    assert extra.tolist() == [-0.25, -0.25] and opt.steps == 2


def test_malformed_groups_are_refused():
    a, b = genc.Parameter(genc.ones(2)), genc.Parameter(genc.ones(3))
    cases = [
        (lambda: genc.SGD([]), ValueError, "empty"),
        (lambda: genc.SGD(a), TypeError, "one Tensor"),
        (lambda: genc.SGD({"params": [a]}), TypeError, "one dict"),
        (lambda: genc.SGD([{"params": [a]}, b]), TypeError, "mixes"),
        (lambda: genc.SGD([{"lr": 0.1}]), ValueError, "'params'"),
        (lambda: genc.SGD([{"params": []}]), ValueError, "no parameters"),
        (lambda: genc.SGD([{"params": [a]}, {"params": [a, b]}]), ValueError, "more than one"),
        (lambda: genc.SGD([a, a]), ValueError, "more than one"),
        (lambda: genc.SGD([a], lr=-1), ValueError, "'lr'"),
        (lambda: genc.SGD([{"params": [a], "lr": "fast"}]), ValueError, "'lr'"),
        (lambda: genc.AdamW([a], betas=(0.9,)), ValueError, "betas"),
        (lambda: genc.AdamW([a], betas=(1.5, 0.9)), ValueError, "betas"),
        (lambda: genc.AdamW([{"params": [1.0]}]), TypeError, "genc.Tensor"),
        (lambda: genc.SGD([a]).add_param_group([b]), TypeError, "dict"),
    ]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f()
    opt = genc.SGD([a], lr=0.1)
    opt.param_groups[0]["lr"] = None  # a bad edit is refused at the next step, nothing changes
    a.grad = genc.ones(2)
    with pytest.raises(ValueError, match="'lr'"):
        opt.step()
    assert a.tolist() == [1.0, 1.0]


def test_optimisers_pickle_with_their_groups():
    opt = genc.AdamW(genc.Linear(2, 2).parameters())
    back = pickle.loads(pickle.dumps(opt))
    assert "1 group(s)" in repr(opt) and repr(back) == repr(opt)
