"""genc.Module: subclassing, cooperative super().__init__ through a diamond of mixins,
parameter discovery (attributes, lists, tuples, dicts), generators, repr, freezing, state."""
import inspect

import numpy as np
import pytest

import genc


class Net(genc.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = genc.Linear(4, 8)
        self.blocks = [genc.Linear(8, 8), genc.RMSNorm(8)]
        self.heads = {"a": genc.Linear(8, 2), "b": genc.Linear(8, 3, bias=False)}
        self.pair = (genc.Linear(8, 8),)
        self.scale = genc.Parameter(genc.ones(1))
        self.not_a_param = genc.zeros(5)  # a plain tensor is not a parameter

    def forward(self, x):
        h = self.fc1(x).relu()
        for b in self.blocks:
            h = b(h)
        return self.heads["a"](self.pair[0](h)) * self.scale


def test_parameters_are_generators_and_found_everywhere():
    net = Net()
    assert inspect.isgenerator(net.parameters()) and inspect.isgenerator(net.named_parameters())
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                     "heads.a.weight", "heads.a.bias", "heads.b.weight", "pair.0.weight", "pair.0.bias"]
    assert net.num_parameters() == 1 + 40 + 72 + 8 + 18 + 24 + 72
    out = net(genc.randn(5, 4))
    out.sum().backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.startswith("heads.b"))


def test_shared_parameters_come_once():
    class Tied(genc.Module):
        def __init__(self):
            super().__init__()
            self.a = genc.Linear(3, 3)
            self.b = self.a
    assert len(list(Tied().parameters())) == 2


class Logged(genc.Module):
    def __init__(self, log=None, **kw):
        super().__init__(**kw)
        self.log = (log or []) + ["Logged"]


class WithA(Logged):
    def __init__(self, a=1, **kw):
        super().__init__(**kw)
        self.a_layer = genc.Linear(2, a)
        self.log.append("WithA")


class WithB(Logged):
    def __init__(self, b=1, **kw):
        super().__init__(**kw)
        self.b_layer = genc.Linear(2, b)
        self.log.append("WithB")


class Diamond(WithA, WithB):
    def __init__(self):
        super().__init__(a=3, b=4)
        self.log.append("Diamond")

    def forward(self, x):
        return self.a_layer(x).sum() + self.b_layer(x).sum()


def test_diamond_mro_cooperative_init():
    d = Diamond()
    assert [c.__name__ for c in Diamond.__mro__[:5]] == ["Diamond", "WithA", "WithB", "Logged", "Module"]
    assert d.log == ["Logged", "WithB", "WithA", "Diamond"]  # each __init__ ran once, in MRO order
    assert {n for n, _ in d.named_parameters()} == {"a_layer.weight", "a_layer.bias", "b_layer.weight", "b_layer.bias"}
    d(genc.randn(2, 2)).backward()


def test_leftover_init_arguments_are_a_type_error():
    class Bad(genc.Module):
        def __init__(self):
            super().__init__(unused=1)
    with pytest.raises(TypeError, match="no arguments"):
        Bad()


def test_forward_missing_and_call():
    with pytest.raises(NotImplementedError):
        genc.Module()(1)


def test_repr_shows_tree_and_counts():
    r = repr(Net())
    assert r.startswith("Net(  # 235 params")
    assert "(fc1): Linear(4 -> 8)  # 40 params" in r and "(heads.b): Linear(8 -> 3, no bias)  # 24 params" in r


def test_train_eval_propagate():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_freeze_makes_parameters_read_only(tmp_path):
    net = Net().freeze()
    p = net.fc1.weight
    assert p.readonly and not p.requires_grad
    with pytest.raises(ValueError, match="read-only"):
        p.fill_(0)
    with pytest.raises(ValueError):
        with genc.no_grad():
            p[0, 0] = 1


def test_state_dict_save_load_checkpoint_views_are_read_only(tmp_path):
    net = Net()
    path = str(tmp_path / "net.safetensors")
    net.save(path, metadata={"note": "x"})
    loaded = genc.load(path)
    w = loaded["fc1.weight"]
    assert w.readonly and np.array_equal(np.asarray(w), np.asarray(net.fc1.weight))
    with pytest.raises(ValueError, match="read-only"):
        w.zero_()
    with pytest.raises(ValueError):
        w.readonly = False
    net2 = Net().load(path)
    assert np.array_equal(np.asarray(net2.heads["a"].weight), np.asarray(net.heads["a"].weight))
    assert genc.load_metadata(path)["note"] == "x"
