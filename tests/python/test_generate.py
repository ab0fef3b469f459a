"""Generators: model.generate yields tokens as produced; send(text) appends to the context;
close() frees the latent KV cache at once. Data loaders are iterators; samplers yield steps."""
import collections.abc
import inspect

import pytest

import genc
from conftest import small_lm


def test_generate_is_a_generator(corpus):
    tok, ids = corpus
    lm = small_lm(tok)
    g = lm.generate("The", max_new_tokens=5, temperature=0.0)
    assert isinstance(g, collections.abc.Generator) and iter(g) is g
    out = list(g)
    assert 1 <= len(out) <= 5 and all(isinstance(i, int) for i in out)
    assert not g.cache_allocated  # exhausted: the cache is gone
    with pytest.raises(StopIteration):
        next(g)
    again = list(lm.generate("The", max_new_tokens=5, temperature=0.0))
    assert again == out  # greedy decoding is deterministic


def test_send_appends_text_and_close_frees(corpus):
    tok, ids = corpus
    lm = small_lm(tok)
    g = lm.generate("Hello", max_new_tokens=50, temperature=0.0, eos=-1)
    with pytest.raises(TypeError):
        g.send("x")  # like a fresh Python generator
    first = next(g)
    n0 = g.context_length
    sent = tok.encode(" world and more")
    tok_after = g.send(" world and more")
    assert isinstance(first, int) and isinstance(tok_after, int)
    assert g.context_length == n0 + 1 + len(sent)  # the pending token and the text went in
    assert g.cache_allocated
    g.close()
    assert not g.cache_allocated
    with pytest.raises(StopIteration):
        next(g)
    g.close()  # closing twice is fine


def test_throw_frees_and_raises(corpus):
    tok, _ = corpus
    g = small_lm(tok).generate([5, 6], max_new_tokens=10, eos=-1)
    next(g)
    with pytest.raises(ValueError):
        g.throw(ValueError("stop"))
    assert not g.cache_allocated


def test_rectified_flow_sampler_yields_every_step():
    class V(genc.Module):
        def __init__(self):
            super().__init__()
            self.fc = genc.Linear(3, 2)

        def forward(self, x, t):
            return self.fc(genc.concat([x, t], axis=1))

    steps = genc.rectified_flow_sample(V(), genc.randn(4, 2), steps=6)
    assert inspect.isgenerator(steps)
    xs = list(steps)
    assert len(xs) == 6 and all(x.shape == (4, 2) for x in xs)


def tiny_unet():
    return genc.UNet(rows=8, cols=8, base=8, levels=2, mult=[1, 2], res_blocks=1, groups=4, attn_heads=0)


def test_diffusion_sampler_yields_each_step_as_produced():
    u = tiny_unet()
    sched = genc.DDPMSchedule("linear", 100)
    g = u.sample(2, "ddim", 5, sched, seed=1)
    assert isinstance(g, collections.abc.Iterator) and g.running
    steps = list(g)
    assert [s for s, _, _ in steps] == [0, 1, 2, 3, 4, 5] and steps[-1][1] == -1
    assert all(x.shape == (2, 64) for _, _, x in steps)
    assert not g.running
    fixed = [x.tolist() for _, _, x in u.sample(2, "ddim", 5, sched, seed=1)]
    assert fixed == [x.tolist() for _, _, x in steps]  # same seed, same images


def test_rectified_flow_sampler_close_cancels_the_loop():
    u = tiny_unet()
    g = u.sample(3, "rflow", 1000, seed=2, ode="heun")
    first = next(g)
    assert first[0] == 0 and g.running
    g.close()
    assert not g.running
    with pytest.raises(StopIteration):
        next(g)
