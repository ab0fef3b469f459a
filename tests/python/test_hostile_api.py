"""Hostile callers of the PyTorch-style API of issue #25 (0-d tensors, Tensor subclasses,
module containers, optimiser groups, pickling), in the style of test_hostile.py: each
snippet runs in a fresh interpreter, a signal fails the test, and every misuse must end in
the expected Python exception."""
from test_hostile import passes, run_snippet


def test_zero_dim_misuse():
    out = run_snippet("""
        import numpy as np
        s = genc.tensor(2.0)
        check(lambda: genc.tensor([1.0, 2.0]).reshape(), ValueError, "shape () is invalid")
        check(lambda: genc._genc._from_bytes(b"", ()), ValueError, "does not match")
        check(lambda: s.transpose(), IndexError, "0-d")
        check(lambda: s.t(), (ValueError, IndexError), "")
        check(lambda: s[None], IndexError, "0-d")
        check(lambda: s[0, 0], IndexError, "0-d")
        check(lambda: s.__setitem__(0, 1.0), IndexError, "0-d")
        check(lambda: s.size(-1), IndexError, "out of range")
        check(lambda: s.squeeze(1), IndexError, "out of range")
        check(lambda: s.unsqueeze(2), IndexError, "out of range")
        check(lambda: s.permute(0), ValueError, "permutation")
        check(lambda: iter(s).__next__(), TypeError, "0-d")
        check(lambda: genc.embedding(s, [0]), Exception, "")
        check(lambda: genc.cross_entropy(s, [0]), IndexError, "0-d")
        check(lambda: s.backward(), RuntimeError, "does not require")
        x = genc.tensor(3.0, requires_grad=True)
        check(lambda: x.backward(genc.ones(2)), ValueError, "2 elements")
        check(lambda: setattr(x, "grad", genc.ones(1, 1)), TypeError, "same shape")
        assert float(genc._genc._from_bytes(np.float32(1.5).tobytes(), ())) == 1.5
        ts = [threading.Thread(target=lambda: [(genc.tensor(1.0) * k).sum().item() for k in range(2000)]) for _ in range(4)]
        [t.start() for t in ts]; [t.join() for t in ts]
        print("THREADS OK")
    """)
    assert passes(out) == 17 and "THREADS OK" in out


def test_subclass_misuse():
    out = run_snippet("""
        import pickle, copy
        class Sub(genc.Tensor):
            pass
        class Weird(genc.Tensor):
            def __new__(cls, *a):
                return 42
        class Raises(genc.Tensor):
            def __init__(self, *a):
                raise ValueError("init refused")
        check(lambda: genc.Tensor.__new__(int, [1.0]), TypeError, "")
        check(lambda: genc.Tensor.__new__(Sub), TypeError, "")
        check(lambda: Sub(object()), TypeError, "expected")
        check(lambda: Raises([1.0]), ValueError, "init refused")
        assert Weird([1.0]) == 42
        s = Sub([1.0, 2.0])
        check(lambda: delattr(s, "__dict__"), TypeError, "__dict__")
        check(lambda: s.missing, AttributeError, "missing")
        s.__dict__ = {"a": 1}
        assert pickle.loads(pickle.dumps(s)).a == 1 and copy.deepcopy(s).a == 1
        check(lambda: setattr(s, "__dict__", 3), TypeError, "")
        r = Sub([1.0]); r.cycle = [r]
        assert copy.deepcopy(r).cycle[0].cycle[0] is not r
        print("SUBCLASS OK")
    """)
    assert passes(out) == 7 and "SUBCLASS OK" in out


def test_container_and_optimiser_misuse():
    out = run_snippet("""
        ml = genc.ModuleList([genc.Linear(2, 2)])
        md = genc.ModuleDict()
        check(lambda: ml[10**30], IndexError, "out of range")
        check(lambda: ml[1.5], TypeError, "ints or slices")
        check(lambda: ml.extend(5), TypeError, "")
        check(lambda: md.update(5), TypeError, "")
        check(lambda: md.update([("a", genc.ReLU(), 3)]), TypeError, "pairs")
        check(lambda: md.__setitem__(None, genc.ReLU()), TypeError, "str")
        check(lambda: md.pop("nope"), KeyError, "nope")
        ml._items.append("not a module")  # tampering with the internals ends in a Python error, not a crash
        check(lambda: list(ml.parameters()), AttributeError, "")
        w = genc.Parameter(genc.ones(2))
        opt = genc.SGD([w], lr=0.1)
        w.grad = genc.ones(2)
        opt.param_groups[0]["params"].append(genc.Parameter(genc.ones(3)))
        check(lambda: opt.step(), RuntimeError, "add_param_group")
        opt.param_groups[0]["params"].pop()
        opt.param_groups.append({"params": [genc.Parameter(genc.ones(1))], "lr": 0.1})
        check(lambda: opt.step(), RuntimeError, "replaced or resized")
        opt.param_groups.pop()
        opt.param_groups[0]["momentum"] = float("nan")
        check(lambda: opt.step(), ValueError, "'momentum'")
        opt.param_groups[0]["momentum"] = 0.0
        opt.step()
        assert w.tolist() == [0.9, 0.9] or abs(w.tolist()[0] - 0.9) < 1e-6
        opt.param_groups = None
        check(lambda: opt.step(), RuntimeError, "replaced")
        A = genc.AdamW.__new__(genc.AdamW)
        check(lambda: A.add_param_group({"params": [w]}), RuntimeError, "not initialised")
        check(lambda: A.steps, RuntimeError, "not initialised")
        assert "not initialised" in repr(A)
        print("OPT OK")
    """)
    assert passes(out) == 14 and "OPT OK" in out
