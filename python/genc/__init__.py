"""genc from Python.

The engine is the C extension ``genc._genc`` (tensors, autograd, optimisers, the model
families); this file adds what is naturally Python on top of its ``Module`` base type:
parameter discovery through attributes (and lists, tuples and dicts of modules) as
generators, the module tree's ``repr``, ``state_dict`` and the built-in layers.

Memory and autograd in one paragraph: every Tensor views memory that genc never frees
behind Python's back (its own, a numpy array's, or a C model's parameters); each op
records a node, and ``backward()`` replays or reuses the engine's own backward for it, so
the engine's per-step arena only ever holds the graph of one op. In-place writes bump the
storage's version counter; backward refuses an input that changed since it was used.
"""
import collections.abc as _abc
import math as _math

from . import _genc
from ._genc import (  # noqa: F401
    Module as _CModule, Node, Parameter, Tensor, __version__, attention, avg_pool2x2,
    clip_grad_norm, concat, conv2d, cross_entropy, dropout, embedding, enable_grad, exp, expand,
    gather_rows, gelu, get_threads, grpo_loss, is_grad_enabled, layer_norm, linear,
    load, load_metadata, log, log_softmax, manual_seed, matmul, max_pool2x2, no_grad, ones, rand, randn,
    relu, rms_norm, rope, save, set_threads, sigmoid, silu, softmax, softplus, sqrt,
    swiglu, take_along, tanh, zeros,
)
from . import _tensor_ext
from ._tensor_ext import asarray, from_numpy, tensor  # noqa: F401  (copy / share-or-refuse / share-if-possible)
from ._tensor_ext import full, inference_mode, set_grad_enabled  # noqa: F401  (PyTorch's signatures over the C ones)
from .optim import AdamW, SGD  # noqa: F401  (parameter groups over the C optimisers)

_tensor_ext.install()

for _name in ("LMCore", "Generation", "Tokenizer", "NICECore", "ClassifierCore", "DataLoader"):
    if hasattr(_genc, _name):
        globals()[_name] = getattr(_genc, _name)
if hasattr(_genc, "Generation"):
    _abc.Generator.register(_genc.Generation)  # send/throw/close, like a Python generator
if hasattr(_genc, "DataLoader"):
    _abc.Iterator.register(_genc.DataLoader)


def _is_param(v):
    return isinstance(v, Tensor) and v.is_parameter


class Module(_CModule):
    """Base class of every genc model: subclass it, assign tensors made with
    ``genc.Parameter`` and sub-modules as attributes (directly, or in lists, tuples and
    dicts), define ``forward``; calling the module calls ``forward``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # the C base refuses leftover arguments (TypeError)

    def named_children(self):
        """(name, module) for each direct sub-module, in attribute order."""
        seen = set()
        for name, value in vars(self).items():
            for sub, child in _modules_in(name, value):
                if id(child) not in seen:
                    seen.add(id(child))
                    yield sub, child

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every descendant, depth first."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = list(m.named_children()) if isinstance(m, Module) else []
            for sub, child in reversed(kids):
                stack.append((f"{name}.{sub}" if name else sub, child))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def _own_parameters(self):
        """(name, tensor) for the parameters held directly by this module."""
        for name, value in vars(self).items():
            if _is_param(value):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if _is_param(v):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if _is_param(v):
                        yield f"{name}.{k}", v

    def named_parameters(self, prefix="", recurse=True):
        """A generator of (dotted name, parameter); a tensor shared by two modules comes once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        """A generator of the parameters (see named_parameters)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def freeze(self):
        """No gradients and read-only memory for every parameter (writes raise ValueError)."""
        for p in self.parameters():
            p.requires_grad = False
            p.readonly = True
        return self

    def unfreeze(self):
        for p in self.parameters():
            p.readonly = False
            p.requires_grad = True
        return self

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` (or None) as attribute ``name``: state that is not a parameter
        (running statistics, masks), listed by ``named_buffers`` and, when ``persistent``, in
        ``state_dict``, as PyTorch's register_buffer."""
        if not isinstance(name, str):
            raise TypeError(f"register_buffer: the name must be a str, found {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"register_buffer: a buffer name is non-empty and has no '.', found {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a genc.Tensor or None for {name!r}, found {type(tensor).__name__}")
        bufs = vars(self).setdefault("_buffers", {})
        if name not in bufs and (name in vars(self) or hasattr(type(self), name)):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if _is_param(tensor):
            raise KeyError(f"register_buffer: {name!r} is a parameter (genc.Parameter); buffers are plain tensors")
        bufs[name] = bool(persistent)
        setattr(self, name, tensor)

    def named_buffers(self, prefix="", recurse=True):
        """A generator of (dotted name, buffer) over the registered buffers that are tensors."""
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for name in vars(m).get("_buffers", {}):
                t = vars(m).get(name)
                if isinstance(t, Tensor):
                    yield (f"{mname}.{name}" if mname else name), t

    def buffers(self, recurse=True):
        for _, t in self.named_buffers(recurse=recurse):
            yield t

    def _persistent_buffers(self):
        for mname, m in self.named_modules():
            for name, keep in vars(m).get("_buffers", {}).items():
                t = vars(m).get(name)
                if keep and isinstance(t, Tensor):
                    yield (f"{mname}.{name}" if mname else name), t

    def state_dict(self):
        """Parameters, then persistent buffers, by dotted name: tensors that share the module's
        memory without autograd (``.detach()``), as PyTorch's state_dict."""
        d = {k: p.detach() for k, p in self.named_parameters()}
        d.update((k, t.detach()) for k, t in self._persistent_buffers())
        return d

    def load_state_dict(self, state, strict=True):
        own = dict(self.named_parameters())
        own.update(self._persistent_buffers())
        missing = [k for k in own if k not in state]
        extra = [k for k in state if k not in own]
        if strict and (missing or extra):
            raise ValueError(f"load_state_dict: missing {missing}, unexpected {extra}")
        with no_grad():
            for k, p in own.items():
                if k in state:
                    src = state[k] if isinstance(state[k], Tensor) else tensor(state[k])
                    if src.shape != p.shape:
                        raise ValueError(f"load_state_dict: {k} has shape {src.shape} in the state, {p.shape} here")
                    ro = p.readonly
                    p.readonly = False
                    p.copy_(src)
                    p.readonly = ro

    def save(self, path, metadata=None):
        save(self.state_dict(), path, metadata)

    def load(self, path, strict=True):
        self.load_state_dict(load(path), strict)
        return self

    def extra_repr(self):
        return ""

    def __getstate__(self):  # pickle / copy.deepcopy: the attributes and the training flag
        return {"__dict__": dict(vars(self)), "training": self.training}

    def __setstate__(self, state):
        vars(self).update(state["__dict__"])
        self.training = state["training"]

    def __repr__(self):
        return "\n".join(_repr_lines(self, ""))


def _modules_in(name, value):
    if isinstance(value, _CModule):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if isinstance(v, _CModule):
                yield f"{name}.{i}", v
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, _CModule):
                yield f"{name}.{k}", v


def _repr_lines(m, label):
    """Module tree, one line per module, each with its parameter count."""
    extra, name, n = m.extra_repr(), type(m).__name__, m.num_parameters()
    kids = list(m.named_children())
    if not kids:
        return [f"{label}{name}({extra})  # {n:,} params"]
    lines = [f"{label}{name}({extra}{', ' if extra else ''}  # {n:,} params"]
    for sub, child in kids:
        lines += ["  " + s for s in _repr_lines(child, f"({sub}): ")]
    return lines + [")"]


# ---- built-in layers ----

def _uniform(shape, bound):
    return Parameter(rand(*shape) * (2 * bound) - bound)


class Linear(Module):
    """y = x W^T + b, W [out, in], initialised as PyTorch does (uniform, 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = 1 / _math.sqrt(in_features)
        self.weight = _uniform((out_features, in_features), bound)
        self.bias = _uniform((out_features,), bound) if bias else None
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.in_features} -> {self.out_features}" + ("" if self.bias is not None else ", no bias")


class Embedding(Module):
    """Rows of a [num, dim] table at integer ids, initialised N(0, std^2)."""

    def __init__(self, num, dim, std=0.02):
        super().__init__()
        self.weight = Parameter(randn(num, dim, std=std))
        self.num, self.dim = num, dim

    def forward(self, ids):
        return embedding(self.weight, ids)

    def extra_repr(self):
        return f"{self.num}, {self.dim}"


class RMSNorm(Module):
    """RMSNorm over the last dim, with a learned scale (initialised to ones)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = Parameter(ones(dim))
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.weight.shape[0]}"


class LayerNorm(Module):
    """LayerNorm over the last dim, with a learned scale and shift."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = Parameter(ones(dim))
        self.bias = Parameter(zeros(dim))
        self.eps = eps

    def forward(self, x):
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.weight.shape[0]}"


class Conv2d(Module):
    """NCHW convolution with a square kernel, initialised as PyTorch does (uniform, 1/sqrt(fan in))."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0, bias=True):
        super().__init__()
        bound = 1 / _math.sqrt(cin * kernel * kernel)
        self.weight = _uniform((cout, cin, kernel, kernel), bound)
        self.bias = _uniform((cout,), bound) if bias else None
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        co, ci, k, _ = self.weight.shape
        return f"{ci} -> {co}, {k}x{k}, stride {self.stride}, padding {self.padding}"


class Dropout(Module):
    """Inverted dropout with probability p while training; the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _Activation(Module):
    """An elementwise activation as a module (no parameters)."""

    fn = None

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return type(self).fn(x)


class ReLU(_Activation):
    """max(x, 0), elementwise."""

    fn = staticmethod(relu)


class SiLU(_Activation):
    """x * sigmoid(x), elementwise."""

    fn = staticmethod(silu)


class Tanh(_Activation):
    """tanh(x), elementwise."""

    fn = staticmethod(tanh)


class GELU(_Activation):
    """the exact GELU, elementwise."""

    fn = staticmethod(gelu)


from .containers import ModuleDict, ModuleList, Sequential  # noqa: E402


def mse_loss(a, b):
    """The mean of (a - b)^2 over every element (a 0-d tensor)."""
    d = a - b
    return (d * d).mean()


from .models import *  # noqa: E402,F401,F403


def _public_names():
    import types
    return sorted(n for n, v in globals().items() if not n.startswith("_") and not isinstance(v, types.ModuleType))


__all__ = _public_names()  # every public class and function (the C extension's and this package's)
