"""Autograd through Python operators against central finite differences; no_grad; version
counters; replayed nodes give the same gradients as live ones."""
import numpy as np
import pytest

import genc


def numeric_grad(f, x, eps=1e-2):
    """Central differences of scalar f over every element of the float32 array x (in double)."""
    g = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def check(fn, *shapes, tol=2e-3, positive=False):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 1.5, s).astype(np.float32) if positive else rng.standard_normal(s).astype(np.float32)
              for s in shapes]
    ts = [genc.from_numpy(a) for a in arrays]  # views: numeric perturbations show through
    for t in ts:
        t.requires_grad = True
    out = fn(*ts)
    out.backward()
    for a, t in zip(arrays, ts):
        def f():
            with genc.no_grad():
                return fn(*[genc.from_numpy(b) for b in arrays]).item()
        num = numeric_grad(f, a)
        ana = np.asarray(t.grad, dtype=np.float64)
        assert np.allclose(ana, num, rtol=tol, atol=tol), (ana, num)


def test_arithmetic_operators():
    check(lambda a, b: ((a + b) * a - b / (a * a + 1)).sum(), (3, 4), (3, 4))


def test_broadcast_scalars_and_reflected_ops():
    check(lambda a, b: (2 - a * 3 + 1 / (b * b + 2) + a * b).mean(), (2, 3), (3,))


def test_matmul_and_nonlinearities():
    check(lambda x, w, b: (genc.linear(x, w, b).tanh() @ w).sigmoid().sum(), (4, 3), (3, 3), (3,))


def test_pow_exp_log_softmax_views():
    check(lambda a: ((a ** 2).sum() + a.log().exp().sqrt().sum() + a.softmax()[1].sum() + a.T.reshape(-1)[2].sum()
                     + (a ** 1.5).mean()), (3, 4), positive=True)


def test_indexing_backward():
    check(lambda a: (a[1:, ::2] * a[0, 1:3]).sum() + a[..., -1].sum(), (3, 4))


def test_cross_entropy_and_layers():
    check(lambda x, w: genc.cross_entropy(genc.linear(x, w), [0, 2, 1, 2]), (4, 5), (3, 5))
    check(lambda x, w: genc.rms_norm(x, w).square().sum(), (3, 6), (6,))


def test_leaf_backward_accumulates_and_seeds_non_scalars():
    x = genc.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(gradient=[1.0, 1.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    with pytest.raises(ValueError):
        (x * 2).backward()  # not a scalar and no gradient given


def test_replayed_nodes_match_live_ones():
    genc.manual_seed(3)
    x = genc.randn(5, 4, requires_grad=True)
    y = genc.dropout(x.tanh(), 0.5) * 2  # the random mask must replay identically
    other = (genc.randn(3, requires_grad=True) * 2).sum()  # makes y's graph no longer live
    y.sum().backward()
    g1 = np.asarray(x.grad).copy()
    x.grad = None
    y.sum().backward()  # everything replays now
    assert np.array_equal(g1, np.asarray(x.grad))
    other.backward()


def test_no_grad_context_manager_nests():
    x = genc.randn(3, requires_grad=True)
    with genc.no_grad():
        y = x * 2
        with genc.enable_grad():
            z = x * 2
        w = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None
    assert w.grad_fn is None and genc.is_grad_enabled()


def test_inplace_on_saved_input_raises_at_backward():
    a = genc.randn(3)
    w = genc.randn(3, requires_grad=True)
    y = (a * w).sum()
    v = a._version
    a.add_(1)  # a does not require grad: allowed, bumps the version
    assert a._version == v + 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_raises():
    w = genc.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1
    with genc.no_grad():
        w += 1  # fine under no_grad, like an optimiser step


def test_optimiser_step_then_backward_raises():
    lin = genc.Linear(3, 2)
    opt = genc.SGD(lin.parameters(), lr=0.1)
    loss = lin(genc.randn(4, 3)).sum()
    loss.backward()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_sgd_reduces_a_quadratic():
    w = genc.Parameter(genc.tensor([3.0, -2.0]))
    opt = genc.SGD([w], lr=0.1)
    for _ in range(50):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert max(abs(v) for v in w.tolist()) < 1e-3


def test_arena_holds_at_most_one_op():
    x = genc.randn(64, 64, requires_grad=True)
    ys = [x @ x for _ in range(20)]
    assert genc._genc._arena_used() < 4 * 64 * 64 * 20  # not 20 graphs' worth
    ys[0].sum().backward()
    assert genc._genc._arena_used() == 0


def test_no_grad_as_decorator_on_functions_and_methods():
    @genc.no_grad()
    def f(x):
        return x * 2

    class M:
        @genc.no_grad()
        def g(self, x):
            return x * 3

    x = genc.randn(2, requires_grad=True)
    assert f(x).grad_fn is None and M().g(x).grad_fn is None and f.__name__ == "f"
    assert (x * 2).grad_fn is not None
