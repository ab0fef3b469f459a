"""genc.ModuleList, genc.ModuleDict and genc.Sequential: parameters found through them,
state_dict names as PyTorch's for the same tree (checked against torch.nn when it is
installed), list/dict behaviour, and clear errors for anything that is not a module."""
import pickle

import pytest

import genc


class Net(genc.Module):
    def __init__(self):
        super().__init__()
        self.layers = genc.ModuleList([genc.Linear(2, 3), genc.Linear(3, 3)])
        self.heads = genc.ModuleDict({"policy": genc.Linear(3, 4), "value": genc.Linear(3, 1, bias=False)})
        self.body = genc.Sequential(genc.Linear(3, 3), genc.ReLU())

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        x = self.body(x)
        return self.heads["policy"](x).sum() + self.heads["value"](x).sum()


NAMES = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "heads.policy.weight",
         "heads.policy.bias", "heads.value.weight", "body.0.weight", "body.0.bias"]


def test_parameters_and_state_dict_names():
    net = Net()
    assert list(net.state_dict()) == NAMES
    assert len(list(net.parameters())) == len(NAMES)
    net(genc.randn(5, 2)).backward()
    assert all(p.grad is not None for p in net.parameters())


def test_names_match_torch():
    nn = pytest.importorskip("torch.nn")

    class TorchNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 3)])
            self.heads = nn.ModuleDict({"policy": nn.Linear(3, 4), "value": nn.Linear(3, 1, bias=False)})
            self.body = nn.Sequential(nn.Linear(3, 3), nn.ReLU())

    assert list(TorchNet().state_dict()) == NAMES
    assert [n for n, _ in genc.Sequential(genc.Linear(2, 2)).named_parameters()] == \
        [n for n, _ in nn.Sequential(nn.Linear(2, 2)).named_parameters()]


def test_state_dict_round_trip_and_training_flag(tmp_path):
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = genc.randn(4, 2)
    assert a(x).item() == b(x).item()
    a.save(str(tmp_path / "net.safetensors"))
    c = Net().load(str(tmp_path / "net.safetensors"))
    assert c(x).item() == a(x).item()
    a.eval()
    assert not a.layers.training and not a.layers[1].training and not a.heads["value"].training


def test_module_list_behaves_as_a_list():
    lin = [genc.Linear(2, 2) for _ in range(4)]
    ml = genc.ModuleList(lin[:2])
    ml.append(lin[2])
    ml += [lin[3]]
    assert len(ml) == 4 and list(ml) == lin and ml[-1] is lin[3]
    assert isinstance(ml[1:3], genc.ModuleList) and list(ml[1:3]) == lin[1:3]
    ml.insert(0, lin[3])
    del ml[0]
    ml[0] = lin[1]
    assert list(ml) == [lin[1], lin[1], lin[2], lin[3]]
    assert len(list(ml.parameters())) == 6  # a module held twice counts once
    seq = genc.Sequential(genc.Linear(2, 3), genc.ReLU(), genc.Linear(3, 1))
    assert isinstance(seq[0:2], genc.Sequential) and seq[0:2](genc.ones(1, 2)).shape == (1, 3)


def test_module_dict_behaves_as_a_dict():
    md = genc.ModuleDict([("a", genc.Linear(2, 2))])
    md["b"] = genc.ReLU()
    md.update({"c": genc.Linear(2, 1)})
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert [k for k, _ in md.items()] == list(md.keys())
    assert isinstance(md.pop("b"), genc.ReLU) and "b" not in md
    del md["a"]
    assert list(md.state_dict()) == ["c.weight", "c.bias"]
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []


def test_containers_refuse_what_is_not_a_module():
    ml = genc.ModuleList()
    for bad in (lambda: ml.append(3), lambda: ml.extend([genc.Linear(1, 1), "x"]), lambda: genc.ModuleList([None]),
                lambda: ml.extend(genc.Linear(1, 1)), lambda: ml.__setitem__(0, 1), lambda: ml["0"]):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(IndexError):
        ml[0]
    assert len(ml) == 0  # the refused extend added nothing
    md = genc.ModuleDict()
    with pytest.raises(TypeError):
        md[1] = genc.ReLU()
    with pytest.raises(TypeError):
        md["a"] = [genc.ReLU()]
    for key in ("", "a.b"):
        with pytest.raises(KeyError):
            md[key] = genc.ReLU()
    with pytest.raises(KeyError):
        md["missing"]
    with pytest.raises(TypeError):
        genc.ModuleDict([1, 2])
    with pytest.raises(NotImplementedError):
        genc.ModuleList([genc.ReLU()])(genc.ones(1))


def test_containers_pickle():
    net = Net()
    back = pickle.loads(pickle.dumps(net))
    assert list(back.state_dict()) == NAMES
    x = genc.randn(3, 2)
    assert back(x).item() == net(x).item()
