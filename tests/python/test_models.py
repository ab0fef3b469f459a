"""Model families from Python: language model training step and checkpoints, NICE, the
classifier with the data loader, the GRPO objective."""
import os

import numpy as np
import pytest

import genc
from conftest import small_lm


def test_lm_training_step_lowers_the_loss(corpus, tmp_path):
    tok, ids = corpus
    lm = small_lm(tok)
    assert lm.config["n_routed_experts"] > 0 and lm.config["num_nextn_predict_layers"] >= 1  # MoE and MTP
    opt = genc.AdamW(lm.parameters(), lr=3e-3, weight_decay=0.1)
    batch = np.array(ids[:8 * 33], dtype=np.int32).reshape(8, 33)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss, info = lm.loss(batch)
        loss.backward()
        genc.clip_grad_norm(lm.parameters(), 1.0)
        opt.step()
        lm.update_bias()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.3
    assert len(info["mtp"]) == lm.config["num_nextn_predict_layers"]
    path = str(tmp_path / "lm.safetensors")
    lm.save(path)
    back = genc.LanguageModel.load(path)
    with genc.no_grad():
        a, b = lm(batch[:2, :8]), back(batch[:2, :8])
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert back.tokenizer.decode(tok.encode("hello")) == "hello"


def test_lm_gradients_match_finite_differences(corpus):
    tok, ids = corpus
    lm = genc.LanguageModel("tiny", vocab_size=tok.vocab_size, max_position_embeddings=32, n_routed_experts=0,
                            num_nextn_predict_layers=0, init_std=0.2)
    batch = [ids[:9], ids[9:18]]
    loss, _ = lm.loss(batch)
    loss.backward()
    name, p = [(n, t) for n, t in lm.named_parameters() if "o_proj" in n][0]
    a = np.asarray(p)
    g = np.asarray(p.grad)
    for idx in [(0, 0), (3, 5), (7, 1)]:
        old = a[idx]
        with genc.no_grad():
            a[idx] = old + 1e-2
            hi = lm.loss(batch)[0].item()
            a[idx] = old - 1e-2
            lo = lm.loss(batch)[0].item()
            a[idx] = old
        assert abs((hi - lo) / 2e-2 - g[idx]) < 2e-3 + 0.05 * abs(g[idx]), (name, idx)


def test_nice_log_prob_backward_and_sample():
    flow = genc.NICE(rows=4, cols=4, hidden=16, layers=2, couplings=4)
    x = genc.rand(8, 16)
    lp = flow(x)
    assert lp.shape == (8,)
    (-lp.mean()).backward()
    assert all(p.grad is not None for p in flow.parameters())
    s = flow.sample(5, temperature=0.7, seed=3)
    assert s.shape == (5, 16)
    with genc.no_grad():
        h = flow.inverse(genc.randn(2, 16))
    assert h.shape == (2, 16)


def test_classifier_and_data_loader():
    digits = os.environ.get("GENC_MNIST_DIR", "build/data/package/src/digits")
    if not os.path.isdir(digits) and not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("no image data set installed")
    name = "mnist-small" if os.path.isdir(digits) else "fashion-mnist"
    loader = genc.DataLoader(name, batch_size=32, limit=96, seed=1)
    assert len(loader) == 3
    batches = list(loader)
    assert len(batches) == 3 and batches[0][0].shape == (32, 784) and len(batches[0][1]) == 32
    assert len(list(loader)) == 3 and loader.epoch == 2  # iterating again gives the next epoch
    net = genc.Classifier("mlp", hidden=32)
    opt = genc.AdamW(net.parameters(), lr=1e-2)
    x, y = batches[0]
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = genc.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        first = first or loss.item()
    assert loss.item() < first * 0.5


def test_grpo_loss_runs_with_autograd():
    logits = genc.randn(6, 10, requires_grad=True)
    acts = [1, 2, 3, 4, 5, 6]
    logp = np.asarray(genc.log_softmax(logits).detach())[np.arange(6), acts]
    adv = genc.grpo_advantages([1.0, 0.0, 1.0, 0.0, 0.0, 1.0], group=3)
    loss, stats = genc.grpo_loss(logits, acts, logp, adv, [1 / 6] * 6)
    loss.backward()
    assert abs(stats["ratio"] - 1) < 1e-5 and logits.grad is not None
    # at ratio 1 the gradient is -sum_n w_n A_n d logp_n: check one entry
    p = np.asarray(genc.softmax(logits.detach()))
    expect = -(1 / 6) * adv[0] * ((1 if 1 == 1 else 0) - p[0, 1])
    assert abs(np.asarray(logits.grad)[0, 1] - expect) < 1e-5


def test_prefix_tuning_trains_only_the_prefix(corpus):
    tok, ids = corpus
    lm = small_lm(tok)
    before = [np.asarray(p).copy() for p in lm.parameters()]
    pt = genc.PrefixTuning(lm, length=4, hidden=16)
    train = [p for p in pt.parameters() if p.requires_grad]
    assert train and all(n.startswith("prefix.") for n, p in pt.named_parameters() if p.requires_grad)
    opt = genc.AdamW(train, lr=3e-2, weight_decay=0)
    batch = [ids[:33], ids[33:66]]
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = pt.loss(batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(np.array_equal(b, np.asarray(p)) for b, p in zip(before, lm.parameters()))  # base untouched
    ids_out, text = pt.generate("The", max_new_tokens=4)
    assert 1 <= len(ids_out) <= 4


def test_unet_trains_with_ddpm_pairs():
    u = genc.UNet(rows=8, cols=8, base=8, levels=2, mult=[1, 2], res_blocks=1, groups=4, attn_heads=0, dropout=0.0)
    sched = genc.DDPMSchedule("linear", 100)
    opt = genc.AdamW(u.parameters(), lr=3e-3)
    x0 = genc.rand(4, 64) * 2 - 1
    losses = []
    for step in range(5):
        eps = genc.randn(4, 64)
        xt, target = sched.training_pair(x0, eps, [10, 30, 60, 90])
        opt.zero_grad()
        loss = genc.mse_loss(u(xt, [10.0, 30.0, 60.0, 90.0]), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_grpo_rollouts_from_genc_tasks(corpus):
    tok, _ = corpus
    lm = small_lm(tok)
    batch = lm.grpo_rollout("arith", prompts=2, group=4, max_new=8, temperature=1.0, seed=3, template="short")
    assert len(batch.rewards) == 8 and len(batch.texts) == 8
    assert all(t.startswith("<think>") for t in batch.texts)  # scored with the prompt's prefill
    assert all(0.0 <= r <= 1.1 for r in batch.rewards)
    assert batch.rows == 8  # skip_equal is off: every group trains
    loss, stats = batch.loss()
    loss.backward()
    assert abs(stats["ratio"] - 1) < 1e-3  # the policy that sampled is the one scored
    assert loss.grad_fn is not None and loss.grad_fn.name == "grpo_policy_loss"
    assert all(np.isfinite(np.asarray(p.grad)).all() for p in lm.parameters() if p.grad is not None)


def test_grpo_rollout_takes_the_cli_task_and_skips_held_out(corpus):
    tok, _ = corpus
    lm = small_lm(tok)
    # 1-digit sums: 55 distinct problems; with 50 held out, training draws only the other 5
    kw = dict(prompts=12, group=2, max_new=2, template="short", a_digits=1, b_digits=1, ops="+")
    b = lm.grpo_rollout("arith", heldout=50, heldout_seed=777, **kw)
    assert len(b.rewards) == 24 and len(b.prompts) == 12 and 0 <= b.think_rate <= 1
    def keys(prompts):  # "What is 3 + 5?": a sum's key is its sorted operands
        return {tuple(sorted(int(w.strip("?")) for w in p.split()[2::2])) for p in prompts}
    assert len(keys(b.prompts)) <= 5
    assert len(keys(lm.grpo_rollout("arith", heldout=0, **kw).prompts)) > 5
    assert all(" - " in p for p in lm.grpo_rollout("arith", heldout=0, **dict(kw, ops="-")).prompts)
    with pytest.raises(ValueError, match="template"):
        lm.grpo_rollout(prompts=1, group=2, max_new=2, template="chat")
    with pytest.raises(ValueError):
        lm.grpo_rollout(prompts=1, group=2, max_new=2, template="short", ops="/")


def test_grpo_advantages_match_genc_definition():
    adv = genc.grpo_advantages([1.0, 0.0, 0.0, 1.0], group=4)
    assert np.allclose(adv, [0.86603, -0.86603, -0.86603, 0.86603], atol=1e-3)  # sample std, as genc's GRPO


def test_lm_precision_fp8_and_bf16(corpus):
    """set_precision (DeepSeek-V3 3.3): FP8 and BF16 GEMMs give a loss near FP32's but not equal;
    bad values raise with the CLI's message."""
    tok, ids = corpus
    lm = small_lm(tok)
    batch = np.array(ids[:4 * 33], dtype=np.int32).reshape(4, 33)
    losses = {}
    for p, promote in (("fp32", None), ("bf16", None), ("fp8", "128"), ("fp8", "none")):
        lm.set_precision(p, promote)
        loss, _ = lm.loss(batch)
        loss.backward()
        losses[(p, promote)] = loss.item()
    ref = losses[("fp32", None)]
    for k, v in losses.items():
        assert abs(v - ref) / ref < 0.02, (k, v, ref)
    assert losses[("fp8", "128")] != ref and losses[("bf16", None)] != ref
    with pytest.raises(Exception, match="--precision"):
        lm.set_precision("fp16")
    with pytest.raises(Exception, match="--fp8-promote"):
        lm.set_precision("fp8", "0")


def test_tokenizer_gpt2_pretokenizer():
    text = "In 2024 we counted 365 days; don't we? 1800 boats, 2024 fish. " * 40
    v1 = genc.Tokenizer.train(text, 300, pretokenizer="genc-v1")
    g = genc.Tokenizer.train(text, 300, pretokenizer="gpt2")
    assert v1.pretokenizer == "genc-v1" and g.pretokenizer == "gpt2"
    ids = g.encode("2024 don't")
    assert g.decode(ids) == "2024 don't"
    assert len(ids) < len(v1.encode("2024 don't"))  # GPT-2's split lets digit runs merge
    with pytest.raises(ValueError, match="pretokenizer"):
        genc.Tokenizer.train(text, 300, pretokenizer="gpt-2")


def test_tokenizer_default_pretokenizer_is_qwen2():
    text = "In 2024 we counted 365 days; don't we? (1800) boats,\n2024 fish.\n\n" * 40
    q = genc.Tokenizer.train(text, 300)
    assert q.pretokenizer == "qwen2"
    assert q.encode("2024") == [50, 48, 50, 52]  # every digit its own token, as genc-v1 keeps them
    assert genc.Tokenizer.train(text, 300, pretokenizer="qwen2").encode(text) == q.encode(text)
