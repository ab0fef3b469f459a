"""Module state as in PyTorch: register_buffer (buffers in named_buffers and, when
persistent, in state_dict after the parameters, loaded back by load_state_dict and save/
load), state_dict values that share the module's memory without autograd, inference_mode
(context manager and decorator), and weak references to a Generation."""
import gc
import threading
import weakref

import pytest

import genc


class Norm(genc.Module):
    def __init__(self):
        super().__init__()
        self.weight = genc.Parameter(genc.ones(3))
        self.register_buffer("running_mean", genc.zeros(3))
        self.register_buffer("steps", genc.tensor(0.0))
        self.register_buffer("scratch", genc.zeros(2), persistent=False)
        self.register_buffer("unused", None)

    def forward(self, x):
        with genc.no_grad():
            self.running_mean.mul_(0.9)
            self.running_mean.add_(x.mean(0) * 0.1)
            self.steps.add_(1.0)
        return x * self.weight


class Net(genc.Module):
    def __init__(self):
        super().__init__()
        self.norm = Norm()
        self.head = genc.Linear(3, 1)

    def forward(self, x):
        return self.head(self.norm(x))


KEYS = ["head.weight", "head.bias", "norm.weight", "norm.running_mean", "norm.steps"]


def test_buffers_in_state_dict():
    net = Net()
    assert sorted(net.state_dict()) == sorted(KEYS)
    assert [n for n, _ in net.named_buffers()] == ["norm.running_mean", "norm.steps", "norm.scratch"]
    assert len(list(net.buffers())) == 3 and len(list(net.parameters())) == 3
    net(genc.ones(4, 3))
    assert net.norm.running_mean.tolist() == pytest.approx([0.1, 0.1, 0.1]) and net.norm.steps.item() == 1.0


def test_buffer_keys_match_torch():
    nn = pytest.importorskip("torch.nn")
    torch = pytest.importorskip("torch")

    class TNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3))
            self.register_buffer("running_mean", torch.zeros(3))
            self.register_buffer("steps", torch.tensor(0.0))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.register_buffer("unused", None)

    class TNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = TNorm()
            self.head = nn.Linear(3, 1)

    assert sorted(TNet().state_dict()) == sorted(KEYS)
    assert TNet().state_dict()["norm.steps"].shape == Net().state_dict()["norm.steps"].shape == ()


def test_state_dict_shares_memory_without_autograd():
    net = Net()
    sd = net.state_dict()
    w = sd["head.weight"]
    assert w.data_ptr == net.head.weight.data_ptr and not w.requires_grad and net.head.weight.requires_grad
    with genc.no_grad():
        net.head.weight.fill_(2.0)
    assert w.tolist() == [[2.0, 2.0, 2.0]]  # live, as PyTorch's


def test_buffers_load_and_save(tmp_path):
    a, b = Net(), Net()
    a(genc.randn(5, 3))
    b.load_state_dict(a.state_dict())
    assert b.norm.running_mean.tolist() == a.norm.running_mean.tolist() and b.norm.steps.item() == 1.0
    a.save(str(tmp_path / "net.safetensors"))
    c = Net().load(str(tmp_path / "net.safetensors"))
    assert c.norm.running_mean.tolist() == a.norm.running_mean.tolist() and c.norm.steps.shape == ()
    state = a.state_dict()
    del state["norm.steps"]
    with pytest.raises(ValueError, match="norm.steps"):
        Net().load_state_dict(state)


def test_register_buffer_refuses_bad_input():
    m = genc.Module()
    for args, exc in [((1, genc.zeros(1)), TypeError), (("", genc.zeros(1)), KeyError), (("a.b", genc.zeros(1)), KeyError),
                      (("x", [1.0]), TypeError), (("training", genc.zeros(1)), KeyError),
                      (("p", genc.Parameter(genc.zeros(1))), KeyError)]:
        with pytest.raises(exc):
            m.register_buffer(*args)
    m.register_buffer("x", genc.zeros(1))
    m.register_buffer("x", genc.ones(1))  # registering the same name again replaces it
    assert m.x.tolist() == [1.0]


def test_inference_mode():
    assert genc.is_grad_enabled()
    x = genc.ones(2, requires_grad=True)
    with genc.inference_mode():
        assert not genc.is_grad_enabled() and (x * 2).grad_fn is None
        with genc.inference_mode(False):
            assert not genc.is_grad_enabled()  # False leaves the mode as it is
    assert genc.is_grad_enabled()

    @genc.inference_mode
    def f(t):
        return t * 2

    @genc.inference_mode()
    def g(t):
        raise RuntimeError("inside")

    assert f(x).grad_fn is None and f.__name__ == "f" and genc.is_grad_enabled()
    with pytest.raises(RuntimeError, match="inside"):
        g(x)
    assert genc.is_grad_enabled()  # restored after an exception
    seen = []
    with genc.inference_mode():
        t = threading.Thread(target=lambda: seen.append(genc.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]  # per thread
    with pytest.raises(TypeError):
        genc.inference_mode()(3)


def test_generation_takes_weak_references():
    lm = genc.LanguageModel("tiny", vocab_size=64)
    g = lm.generate([1, 2, 3], max_new_tokens=2, temperature=0.0)
    r = weakref.ref(g)
    assert r() is g
    next(g)
    del g
    gc.collect()
    assert r() is None
