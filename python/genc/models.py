"""genc's model families as genc.Module subclasses.

Each wraps a C core from genc._genc that owns the model; its parameters are Tensors that
view the C model's memory (named as in genc's checkpoints), so ``named_parameters()``,
optimisers, ``.grad`` and numpy all see the numbers the C forward uses.
"""
import json as _json

from . import _genc
from . import Module, Tensor, no_grad, randn, tensor

__all__ = ["LanguageModel", "Tokenizer", "PrefixTuning", "NICE", "Classifier", "DataLoader", "UNet", "DDPMSchedule",
           "sample", "rflow_training_pair", "grpo_advantages", "rectified_flow_loss", "rectified_flow_sample"]

Tokenizer = _genc.Tokenizer
DataLoader = _genc.DataLoader


class _CoreModule(Module):
    """A module whose parameters are a C model's tensors. pickle and copy.deepcopy rebuild it
    from its constructor's arguments (``_init_args``) and load its state_dict; the other
    Python attributes and the training flag come along."""

    def _own_parameters(self):
        yield from self._core.named_tensors

    def _init_args(self):
        raise TypeError(f"cannot pickle or copy a genc.{type(self).__name__}: save it with .save(path) instead")

    def __reduce_ex__(self, protocol):
        args = self._init_args()
        state = dict(self.state_dict())
        extra = {k: v for k, v in vars(self).items() if k != "_core"}
        return _rebuild_core_module, (type(self), args, state, self.training, extra)


def _rebuild_core_module(cls, args, state, training, extra):
    m = cls(**args)
    m.load_state_dict(state)
    vars(m).update(extra)
    return m.train(training)


def _lm_from_checkpoint(cls, data, training, extra):
    import os
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".safetensors")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        m = cls.load(path)
    finally:
        os.unlink(path)
    vars(m).update(extra)
    return m.train(training)


class LanguageModel(_CoreModule):
    """A DeepSeek-V3-architecture language model: MLA attention with decoupled RoPE,
    DeepSeekMoE with auxiliary-loss-free balancing, multi-token prediction (MTP).

    ``LanguageModel("tiny", vocab_size=512, num_hidden_layers=2)``: a preset, then any
    config field by its Hugging Face name. ``loss(tokens [B, T+1])`` gives the training
    loss with autograd; ``generate`` a token generator; ``fit`` genc's own training loop."""

    def __init__(self, preset="tiny", tokenizer=None, init_std=0.02, _core=None, **config):
        super().__init__()
        if _core is None:
            core = _genc.LMCore(preset)
            if config:
                cfg = _json.loads(core.config_json)
                unknown = [k for k in config if k not in cfg]
                if unknown:
                    raise ValueError(f"LanguageModel: unknown config fields {unknown}; known: {sorted(cfg)}")
                cfg.update(config)
                core = _genc.LMCore(config_json=_json.dumps(cfg), init_std=init_std)
            elif init_std != 0.02:
                core = _genc.LMCore(config_json=core.config_json, init_std=init_std)
            _core = core
        self._core = _core
        if tokenizer is not None:
            self._core.tokenizer = tokenizer

    @classmethod
    def load(cls, path):
        """A model (and its tokenizer) from a genc checkpoint (CLI or Python)."""
        return cls(_core=_genc.LMCore.load(path))

    def __reduce_ex__(self, protocol):
        """pickle / deepcopy: the model as its checkpoint (config, weights, balancing biases,
        tokenizer), written to a temporary file and read back as bytes."""
        import os
        import tempfile
        fd, path = tempfile.mkstemp(suffix=".safetensors")
        os.close(fd)
        try:
            self.save(path)
            with open(path, "rb") as f:
                data = f.read()
        finally:
            os.unlink(path)
        extra = {k: v for k, v in vars(self).items() if k != "_core"}
        return _lm_from_checkpoint, (type(self), data, self.training, extra)

    def save(self, path):
        self._core.save(path)

    @property
    def config(self):
        return _json.loads(self._core.config_json)

    @property
    def tokenizer(self):
        return self._core.tokenizer

    @tokenizer.setter
    def tokenizer(self, tok):
        self._core.tokenizer = tok

    def forward(self, tokens):
        """Logits [B, T, V] of the main model for tokens [B, T]."""
        return self._core.logits(tokens)

    def loss(self, tokens):
        """(total loss, {'main', 'balance', 'mtp'}) for tokens [B, T+1]."""
        return self._core.loss(tokens)

    def update_bias(self):
        """The aux-loss-free balancing step (after each optimiser step)."""
        self._core.update_bias()

    def maxvio(self):
        return self._core.maxvio()

    def set_precision(self, precision, promote=None):
        """GEMMs of the linear layers in "fp32", "bf16" or "fp8" (E4M3, 1x128 / 128x128 scales,
        promotion to FP32 every ``promote`` = "128" products or "none"), DeepSeek-V3 3.3."""
        self._core.set_precision(precision, promote)

    def generate(self, prompt, max_new_tokens=64, temperature=1.0, top_k=0, top_p=1.0, eos=None):
        """A generator of token ids (text prompts need a tokenizer): ``send(text)`` appends
        text to the context mid-stream, ``close()`` frees the latent KV cache at once."""
        kw = {} if eos is None else {"eos": eos}
        return self._core.generate(prompt, max_new_tokens, temperature, top_k, top_p, **kw)

    def fit(self, tokens, steps=100, batch=16, seq=128, lr=3e-3, checkpoint=None, **kw):
        """genc's training loop (AdamW, cosine schedule, clipping, balancing) in C with the
        GIL released; Ctrl-C stops after the current step, writes the checkpoint and raises
        KeyboardInterrupt. Returns {'steps', 'loss', 'stopped'}."""
        return self._core.fit(tokens, steps, batch, seq, lr, checkpoint=checkpoint, **kw)

    def grpo_rollout(self, task="arith", prompts=8, group=8, max_new=64, temperature=1.0, seed=1, index=0, **kw):
        """One GRPO batch: ``group`` sampled responses for each of ``prompts`` generated
        training problems (arith or countdown; held-out problems skipped, as ``genc lm grpo``
        does; keywords ``ops``, ``a_digits``, ``b_digits``, ``numbers``, ``max_number``,
        ``target_max``, ``heldout``, ``heldout_seed``, ``template`` ("r1" or "short") with the
        CLI's defaults), scored by genc's rule-based rewards under the R1 rule, with
        group-relative advantages. ``rollouts.loss()`` is the policy objective (autograd)."""
        return self._core.grpo_rollout(task, prompts, group, max_new, temperature, seed, index, **kw)

    def extra_repr(self):
        c = self.config
        moe = f", MoE {c['n_routed_experts']}x{c['num_experts_per_tok']}" if c["n_routed_experts"] else ""
        return (f"dim {c['hidden_size']}, {c['num_hidden_layers']} layers, MLA kv rank {c['kv_lora_rank']}{moe}, "
                f"MTP {c['num_nextn_predict_layers']}, vocab {c['vocab_size']}")


class PrefixTuning(_CoreModule):
    """Prefix-tuning of an MLA language model: trainable per-layer latent prefixes (c_kv and
    the decoupled k_pe), directly (hidden=0) or through an MLP reparameterisation. The base
    model is frozen (read-only, no gradients) and kept as ``self.base``."""

    def __init__(self, lm, length=8, hidden=0, std=0.02, freeze_base=True):
        super().__init__()
        if freeze_base:
            lm.freeze()
        self._core = _genc.PrefixCore(lm._core, length, hidden, std)
        self.base = lm

    def _own_parameters(self):
        yield from (("prefix." + n.split("prefix.", 1)[-1], t) for n, t in self._core.named_tensors)

    def forward(self, tokens):
        return self._core.logits(tokens)

    def loss(self, tokens):
        return self._core.loss(tokens)

    def generate(self, prompt, max_new_tokens=32, temperature=0.0, top_k=0, top_p=1.0):
        """(ids, text) generated with the prefix in the cache."""
        return self._core.generate(prompt, max_new_tokens, temperature, top_k, top_p)

    def save(self, path):
        self._core.save(path)


class NICE(_CoreModule):
    """The NICE normalising flow (additive couplings, diagonal scaling)."""

    def __init__(self, rows=28, cols=28, hidden=1000, layers=5, couplings=4, prior="logistic", perm_seed=None):
        super().__init__()
        kw = {} if perm_seed is None else {"perm_seed": perm_seed}
        self._core = _genc.NICECore(rows, cols, hidden, layers, couplings, prior, **kw)

    def forward(self, x):
        return self._core.log_prob(x)

    log_prob = forward

    def _init_args(self):
        c = _json.loads(self._core.config_json)
        c.pop("model", None)
        return c

    def inverse(self, h):
        return self._core.inverse(h)

    def sample(self, n=16, temperature=1.0, seed=1):
        return self._core.sample(n, temperature, seed)

    def extra_repr(self):
        return _json.loads(self._core.config_json).__repr__()


class Classifier(_CoreModule):
    """genc's image classifier (a small convnet, or an MLP)."""

    def __init__(self, arch="convnet", rows=28, cols=28, classes=10, hidden=256, dropout=0.25):
        super().__init__()
        self._core = _genc.ClassifierCore(arch, rows, cols, classes, hidden, dropout)
        self.arch = arch
        self._args = {"arch": arch, "rows": rows, "cols": cols, "classes": classes, "hidden": hidden, "dropout": dropout}

    def _init_args(self):
        return self._args

    def forward(self, x):
        return self._core.forward(x, self.training)

    def extra_repr(self):
        return self.arch


DDPMSchedule = _genc.DDPMSchedule
rflow_training_pair = _genc.rflow_training_pair


class UNet(_CoreModule):
    """genc's U-Net for diffusion and rectified flow on small images (config fields as in
    include/genc/unet.h: rows, cols, channels, base, levels, mult, res_blocks, groups,
    attn_heads, classes, dropout).

    ``UNet(path=...)`` opens a checkpoint: one ``UNet.save`` wrote, or one of
    ``genc image train --model ddpm|rflow`` (its U-Net config nested under "unet"). With
    ``ema=True`` (the default) a checkpoint's EMA weights ("extra.ema.*", what ``genc image
    sample`` uses by default) replace the raw ones when it has them; ``ema=False`` loads the
    raw weights. ``ema_loaded`` tells which, ``diffusion_config`` gives a diffusion
    checkpoint's whole config (model, schedule, T, prediction, ...) or None. A file whose
    config is neither form raises ValueError naming the file."""

    def __init__(self, path=None, ema=True, **config):
        super().__init__()
        if path is not None:
            if config:
                raise ValueError(f"UNet: a checkpoint has its own config; found fields {sorted(config)}")
            self._core = _genc.UNetCore(path=path, ema=ema)
        else:
            base = dict(_UNET_DEFAULTS)
            base.update(config)
            self._core = _genc.UNetCore(_json.dumps(base))

    @property
    def config(self):
        return _json.loads(self._core.config_json)

    def _init_args(self):
        return self.config

    @property
    def diffusion_config(self):
        j = self._core.checkpoint_config_json
        c = None if j is None else _json.loads(j)
        return c if isinstance(c, dict) and c.get("family") == "diffusion" else None

    @property
    def ema_loaded(self):
        return self._core.ema

    def forward(self, x, t, labels=None):
        return self._core.forward(x, t, labels)

    def save(self, path):
        self._core.save(path)

    def sample(self, n=4, method="ddim", steps=50, schedule=None, **kw):
        """A generator of (step, t, x [n, D]) as the C sampler produces them (method
        'ddpm', 'ddim' or 'rflow'); close() cancels the loop."""
        return _genc.sample(self._core, n, method, steps, schedule, **kw)

    def extra_repr(self):
        c = self.config
        return f"{c['channels']}x{c['rows']}x{c['cols']}, base {c['base']}, {c['levels']} levels"


_UNET_DEFAULTS = {"model": "unet", "rows": 28, "cols": 28, "channels": 1, "base": 32, "levels": 3, "mult": [1, 2, 2],
                  "res_blocks": 2, "groups": 8, "attn_heads": 4, "classes": 0, "dropout": 0.1}


def sample(unet, n=4, method="ddim", steps=50, schedule=None, **kw):
    """Module-level form of UNet.sample."""
    core = unet._core if isinstance(unet, UNet) else unet
    return _genc.sample(core, n, method, steps, schedule, **kw)


def grpo_advantages(rewards, group, scale_std=True, eps=1e-4):
    """Group-relative advantages (DeepSeekMath eq. 3): (r - mean) / (std + eps) within each
    group of ``group`` consecutive rollouts (sample standard deviation, as genc's GRPO)."""
    out = []
    for g in range(0, len(rewards), group):
        rs = rewards[g:g + group]
        mean = sum(rs) / len(rs)
        std = (sum((r - mean) ** 2 for r in rs) / max(len(rs) - 1, 1)) ** 0.5
        out += [(r - mean) / (std + eps) if scale_std else r - mean for r in rs]
    return out


def rectified_flow_loss(velocity, x1, t=None, x0=None):
    """Rectified flow (Liu et al. 2022): x_t = t x1 + (1 - t) x0, target x1 - x0,
    loss = mean ||v(x_t, t) - (x1 - x0)||^2. ``velocity(x_t, t)`` is any genc module."""
    n, d = x1.shape
    x0 = randn(n, d) if x0 is None else x0
    t = _genc.rand(n, 1) if t is None else t
    xt = t * x1 + (1 - t) * x0
    diff = velocity(xt, t) - (x1 - x0)
    return (diff * diff).mean()


def rectified_flow_sample(velocity, x0, steps=10):
    """Euler integration of dx/dt = v(x, t) from t = 0 to 1: a generator yielding x after
    every step (so a caller can show intermediate images as they are produced)."""
    x = x0
    n = x0.shape[0]
    with no_grad():
        for k in range(steps):
            t = _genc.full(n, 1, value=k / steps)
            x = x + velocity(x, t) * (1.0 / steps)
            yield x
