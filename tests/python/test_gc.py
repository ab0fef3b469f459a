"""Cyclic garbage collection: cycles through autograd graphs, modules, model cores and user
objects are collected (weakrefs die), and building/dropping 100,000 cyclic graphs keeps
memory flat."""
import gc
import weakref

import genc


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_tensor_graph_cycle_is_collected():
    x = genc.randn(10, requires_grad=True)
    y = (x * 2).tanh()
    x.partner = y  # x -> y -> grad_fn -> ... -> x
    wx, wy = weakref.ref(x), weakref.ref(y)
    del x, y
    gc.collect()
    assert wx() is None and wy() is None


def test_module_cycle_through_user_object_is_collected():
    class Holder:
        pass

    class Net(genc.Module):
        def __init__(self):
            super().__init__()
            self.fc = genc.Linear(3, 3)

        def forward(self, x):
            return self.fc(x)

    net = Net()
    h = Holder()
    h.net = net
    net.holder = h
    net.last = net(genc.randn(2, 3)).sum()  # graph references the net's parameters
    wn, wh = weakref.ref(net), weakref.ref(h)
    del net, h
    gc.collect()
    assert wn() is None and wh() is None


def test_model_core_cycle_is_collected(corpus):
    tok, ids = corpus
    lm = genc.LanguageModel("tiny", vocab_size=tok.vocab_size, num_hidden_layers=1, max_position_embeddings=64)
    loss, _ = lm.loss([ids[:17]])
    lm.loss_tensor = loss  # lm -> loss -> node -> core -> parameter tensors -> core
    g = lm.generate([1, 2, 3], max_new_tokens=2)
    lm.gen = g
    w = weakref.ref(lm)
    wc = weakref.ref(lm._core)
    del lm, loss, g
    gc.collect()
    assert w() is None and wc() is None


def test_100k_cyclic_graphs_keep_memory_flat():
    def churn(n):
        for _ in range(n):
            x = genc.randn(8, requires_grad=True)
            y = x * x
            x.partner = y  # a cycle through the graph
    churn(5000)
    gc.collect()
    before = rss_kb()
    churn(100_000)
    gc.collect()
    after = rss_kb()
    assert after - before < 8 * 1024, (before, after)  # < 8 MB growth for 100k graphs
