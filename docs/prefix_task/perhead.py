#!/usr/bin/env python3
"""A pilot for docs/prefix.md ("Why latents, not per-head keys and values"): prefix-tuning on a
genc base model with the prefix either as genc stores it -- per layer, L latents c_kv that go
through kv_b_proj, plus L k_pe -- or as per-head keys and values (k_nope and v for every head,
plus k_pe), which is what the prefix-tuning paper prefixes in GPT-2 and is 3.4x wider for the
evidence's base (136 numbers per slot and layer against 40). In PyTorch on the float64
reference model (tests/reference/deepseek_ref.py, whose latent-prefix forward test_prefix.py
checks against genc; it takes the per-head form too), with genc lm prefix-tune's recipe: L =
10, P = MLP(P') with P' [L, dim] ~ N(0, 1), Linear(dim -> 512) W ~ N(0, 1/dim) -> tanh ->
Linear(512 -> n_layers * width) W ~ N(0, 1/512), zero biases; AdamW, no weight decay, gradient
norm clipped to 1, batches of 8 drawn with replacement, loss on the output tokens and <|eos|>.
Held-out score: greedy decoding of at most 40 tokens (full recompute), exact match of the token
ids with the tokenised output and <|eos|>.

    /usr/bin/python3 docs/prefix_task/perhead.py GENC WORKDIR TRAIN.jsonl EVAL.jsonl latent|head LR STEPS [SEED]

WORKDIR holds base/checkpoint.safetensors (run.sh's or variants.sh's work folder); TRAIN and
EVAL are relative to it. Prints the loss every 200 steps and one RESULT line."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import deepseek_ref as R  # noqa: E402
import st_io  # noqa: E402

L_PREFIX, HIDDEN, BATCH, MAX_NEW = 10, 512, 8, 40
CK = "base/checkpoint.safetensors"


def tokenizer(genc):
    """text -> token ids through `genc tokenizer encode` (cached), and the <|eos|> id."""
    cache = {}

    def run(text, *flags):
        cmd = [genc, "tokenizer", "encode", "--tokenizer", CK, *flags, "--text", text]
        return [int(x) for x in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()]

    def enc(text):
        if text not in cache:
            cache[text] = run(text)
        return cache[text]
    return enc, run("<|eos|>", "--special")[0]


def load(path, enc, eos):
    """[(input ids, output ids + eos)] of a JSON-lines file."""
    with open(path) as f:
        return [(enc(o["input"]), enc(o["output"]) + [eos]) for o in map(json.loads, f)]


def logits(model, tokens):
    """Main-model logits [B, T, V] of tokens [B, T] (the reference's forward, one dummy target)."""
    return model.forward(torch.cat((tokens, tokens[:, :1]), 1))["logits"]


class Reparam:
    """P = MLP(P'), genc's start (init_std 1)."""

    def __init__(self, cfg, width):
        self.shape = (L_PREFIX, cfg.n_layers, width)
        self.emb = torch.randn(L_PREFIX, cfg.dim, dtype=torch.float64, requires_grad=True)
        self.l1 = torch.nn.Linear(cfg.dim, HIDDEN).double()
        self.l2 = torch.nn.Linear(HIDDEN, cfg.n_layers * width).double()
        with torch.no_grad():
            self.l1.weight.normal_(0, cfg.dim ** -0.5), self.l1.bias.zero_()
            self.l2.weight.normal_(0, HIDDEN ** -0.5), self.l2.bias.zero_()
        self.params = [self.emb, *self.l1.parameters(), *self.l2.parameters()]

    def install(self, model, mode):
        """model.prefix for deepseek_ref: per layer (c_kv, k_pe), or (per-head kv, k_pe)."""
        c = model.cfg
        P = self.l2(torch.tanh(self.l1(self.emb))).view(self.shape)
        cut = c.kv_lora if mode == "latent" else c.n_heads * (c.nope + c.vdim)
        kv = [P[:, layer, :cut] for layer in range(self.shape[1])]
        if mode == "head":
            kv = [x.view(L_PREFIX, c.n_heads, c.nope + c.vdim) for x in kv]
        model.prefix = [(kv[layer], P[:, layer, cut:]) for layer in range(self.shape[1])]


def batch(train, g):
    """BATCH examples drawn with replacement: inputs [B, T] and targets (-1 off the output)."""
    pick = [train[i] for i in torch.randint(len(train), (BATCH,), generator=g).tolist()]
    T = max(len(a) + len(b) for a, b in pick) - 1
    inp, tgt = torch.zeros(BATCH, T, dtype=torch.long), torch.full((BATCH, T), -1, dtype=torch.long)
    for j, (a, b) in enumerate(pick):
        s = a + b
        inp[j, :len(s) - 1] = torch.tensor(s[:-1])
        tgt[j, len(a) - 1:len(s) - 1] = torch.tensor(s[len(a):])
    return inp, tgt


def exact_matches(model, ev, eos):
    n = 0
    with torch.no_grad():
        for a, b in ev:
            seq = list(a)
            while len(seq) - len(a) < MAX_NEW and (len(seq) == len(a) or seq[-1] != eos):
                seq.append(int(logits(model, torch.tensor([seq]))[0, -1].argmax()))
            n += seq[len(a):] == b
    return n


def main():
    if len(sys.argv) not in (8, 9) or sys.argv[5] not in ("latent", "head"):
        sys.exit("usage: perhead.py GENC WORKDIR TRAIN.jsonl EVAL.jsonl latent|head LR STEPS [SEED]")
    genc, workdir, train_path, eval_path, mode = os.path.abspath(sys.argv[1]), *sys.argv[2:6]
    lr, steps, seed = float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]) if len(sys.argv) > 8 else 0
    torch.set_num_threads(1)
    os.chdir(workdir)
    cfg, model = R.load_checkpoint(CK, st_io.st_read)
    for t in model.params.values():
        t.requires_grad_(False)
    enc, eos = tokenizer(genc)
    train, ev = load(train_path, enc, eos), load(eval_path, enc, eos)
    torch.manual_seed(seed)
    width = cfg.kv_lora + cfg.rope if mode == "latent" else cfg.n_heads * (cfg.nope + cfg.vdim) + cfg.rope
    rp = Reparam(cfg, width)
    opt = torch.optim.AdamW(rp.params, lr=lr, weight_decay=0)
    g, t0 = torch.Generator().manual_seed(seed), time.time()
    for step in range(steps):
        inp, tgt = batch(train, g)
        rp.install(model, mode)
        loss = F.cross_entropy(logits(model, inp).reshape(-1, cfg.vocab), tgt.reshape(-1), ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rp.params, 1.0)
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            print("step %d loss %.4f" % (step, loss.item()), flush=True)
    train_s = time.time() - t0
    rp.install(model, mode)
    n = exact_matches(model, ev, eos)
    print("RESULT %s %s lr %g steps %d: exact %d/%d = %.1f%% (%d prefix numbers per layer slot; train %.0f s)" %
          (train_path, mode, lr, steps, n, len(ev), 100 * n / len(ev), width, train_s), flush=True)


if __name__ == "__main__":
    main()
