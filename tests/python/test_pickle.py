"""pickle and copy.deepcopy, as PyTorch users expect: tensors (0-d, views, parameters,
requires_grad) and modules round-trip, the model families included (rebuilt from their
config, then their weights; a language model through its checkpoint), copies are
independent of the original, and what cannot be pickled (optimisers, prefix-tuning) says
so with a TypeError."""
import copy
import pickle

import pytest

import genc


def roundtrips(obj):
    return [pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)]


def perturb(m):
    with genc.no_grad():
        for p in m.parameters():
            ro = p.readonly
            p.readonly = False
            p.add_(genc.rand(*p.shape) * 0.1)
            p.readonly = ro


def test_tensors():
    t = genc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    for c in roundtrips(t):
        assert c.tolist() == t.tolist() and c.requires_grad and c.data_ptr != t.data_ptr
    for c in roundtrips(t.detach()[:, 1]):  # a strided view comes back as a contiguous copy
        assert c.tolist() == [2.0, 5.0] and c.is_contiguous
    p = genc.Parameter(genc.ones(2))
    for c in roundtrips(p):
        assert c.is_parameter and c.requires_grad
    for c in roundtrips(t.sum()):
        assert c.shape == () and c.item() == 21.0 and not c.requires_grad  # a result, not a leaf


class Net(genc.Module):
    def __init__(self):
        super().__init__()
        self.layers = genc.ModuleList([genc.Linear(3, 4), genc.Linear(4, 2)])
        self.note = {"k": 1}

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_python_modules_and_independence():
    net = Net().eval()
    x = genc.randn(2, 3)
    for c in roundtrips(net):
        assert type(c) is Net and not c.training and c.note == {"k": 1}
        assert c(x).tolist() == net(x).tolist()
        with genc.no_grad():
            c.layers[0].weight.add_(1.0)
        assert c(x).tolist() != net(x).tolist()  # the copy has its own memory


def check_core(m, *inputs):
    perturb(m)  # weights that a fresh construction could not reproduce
    m.eval()
    m.tag = "kept"
    want = m(*inputs).tolist()
    for c in roundtrips(m):
        assert type(c) is type(m) and not c.training and c.tag == "kept"
        assert c(*inputs).tolist() == want
        assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]


def test_nice_classifier_unet():
    check_core(genc.NICE(rows=4, cols=4, hidden=8, layers=2), genc.rand(3, 16))
    check_core(genc.Classifier("mlp", rows=4, cols=4, classes=3, hidden=8), genc.rand(3, 16))
    u = genc.UNet(rows=8, cols=8, base=8, levels=1, mult=[1], groups=4, attn_heads=1, dropout=0.0)
    check_core(u, genc.rand(2, 64), [3, 7])


def test_language_model_through_its_checkpoint():
    lm = genc.LanguageModel("tiny", vocab_size=64)
    tokens = [[1, 2, 3, 4, 5]]
    check_core(lm, tokens)
    c = pickle.loads(pickle.dumps(lm))
    assert c.config == lm.config


def test_what_cannot_be_pickled_says_so():
    lm = genc.LanguageModel("tiny", vocab_size=64)
    prefix = genc.PrefixTuning(lm, length=2)
    with pytest.raises(TypeError, match="cannot pickle or copy a genc.PrefixTuning"):
        pickle.dumps(prefix)
    with pytest.raises(TypeError, match="cannot pickle or copy a genc.PrefixTuning"):
        copy.deepcopy(prefix)
    # Optimisers pickle and copy now, with their state (test_optim_state.py).
    assert copy.deepcopy(genc.SGD([genc.Parameter(genc.ones(1))])).steps == 0
