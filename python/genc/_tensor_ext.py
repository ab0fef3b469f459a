"""The genc.Tensor methods and the creation functions that are naturally Python: numpy's
array protocols (``__array__``, ``__array_ufunc__``), the copy-or-share rules of
``tensor`` / ``from_numpy`` / ``asarray`` (PyTorch's: ``tensor`` copies, ``from_numpy``
shares or refuses, ``asarray`` shares when it can), and PyTorch's names where genc has the
same concept (``sum(dim=)``, ``requires_grad_``, ``permute``, ``unsqueeze``, ``squeeze``,
``float``, ``to``). ``install()`` puts the methods on the C type ``genc.Tensor``."""
import operator as _op

from . import _genc

Tensor = _genc.Tensor
_c_tensor = _genc.tensor
_c_sum = Tensor.sum
_c_mean = Tensor.mean
_np_mod = None


def _np():
    global _np_mod
    if _np_mod is None:
        import numpy
        _np_mod = numpy
    return _np_mod


# ---- creation: copy, share, or share-if-possible ----

def tensor(data, requires_grad=False):
    """tensor(data, requires_grad=False)

    A new tensor holding a copy of ``data`` (a number, nested lists, a numpy array or any
    buffer, or a Tensor), as ``torch.tensor``: later writes to ``data`` do not show through.
    Use ``from_numpy`` (or ``asarray``) to share a numpy array's memory instead."""
    t = _c_tensor(data)
    if isinstance(data, Tensor) or _has_buffer(data):  # the C conversion may have shared it
        t = t.clone()
    t.requires_grad = bool(requires_grad)
    return t


def _has_buffer(data):
    try:
        memoryview(data).release()
        return True
    except TypeError:
        return False


def from_numpy(ndarray):
    """from_numpy(ndarray)

    A tensor sharing ``ndarray``'s memory (writes show through both ways), as
    ``torch.from_numpy``. The array must be float32 in native byte order, with 0 to 4 dims,
    no zero dims and non-negative, element-aligned strides; anything else raises (TypeError
    for a wrong type or dtype, ValueError for a layout genc cannot view) rather than copying
    silently: use ``genc.tensor`` (always a copy) or ``genc.asarray`` (shares when it can)."""
    np = _np()
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, found {type(ndarray).__name__}")
    if ndarray.dtype != np.float32:
        raise TypeError(f"from_numpy: genc can share float32 arrays only, this one is {ndarray.dtype}; "
                        "genc.tensor(a) copies it (or a.astype(np.float32) first)")
    bad = [s for s in ndarray.strides if s < 0 or s % 4]
    if bad or not ndarray.flags.aligned or ndarray.ndim > 4 or 0 in ndarray.shape:
        raise ValueError(f"from_numpy: genc cannot view this array (shape {ndarray.shape}, strides {ndarray.strides}, "
                         f"aligned {ndarray.flags.aligned}): it needs 0 to 4 non-empty dims and non-negative, "
                         "element-aligned strides; genc.tensor(a) copies it")
    return _c_tensor(ndarray)


def asarray(obj):
    """asarray(obj)

    ``obj`` as a Tensor, sharing memory when possible (a Tensor is returned as is; a float32
    numpy array or buffer genc can view is shared), copying otherwise (other dtypes, reversed
    strides, lists, numbers), as ``numpy.asarray`` / ``torch.asarray``."""
    if isinstance(obj, Tensor):
        return obj
    return _c_tensor(obj)


# ---- numpy protocols ----

def __array__(self, dtype=None, copy=None):
    """__array__(self, dtype=None, copy=None)

    The tensor as a numpy array: a view of its memory by default; ``copy=True`` copies,
    ``dtype`` converts (a copy unless already float32); ``copy=False`` with a conversion
    raises ValueError (numpy 2's rule)."""
    np = _np()
    a = np.asarray(memoryview(self))
    if dtype is not None and np.dtype(dtype) != a.dtype:
        if copy is False:
            raise ValueError(f"__array__: converting float32 to {np.dtype(dtype)} needs a copy, and copy=False")
        return a.astype(dtype)
    return a.copy() if copy else a


_BINARY = {"add": _op.add, "subtract": _op.sub, "multiply": _op.mul, "true_divide": _op.truediv,
           "divide": _op.truediv, "equal": _op.eq, "not_equal": _op.ne, "less": _op.lt,
           "less_equal": _op.le, "greater": _op.gt, "greater_equal": _op.ge}
_UNARY = {"exp": "exp", "log": "log", "tanh": "tanh", "sqrt": "sqrt", "negative": None}


def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    """__array_ufunc__(self, ufunc, method, *inputs, **kwargs)

    numpy ufuncs on tensors. Plain calls of the arithmetic and comparison ufuncs
    (``array * tensor``, ``np.add(t, 1)``) and of exp/log/tanh/sqrt/negative run genc's ops
    and give a Tensor (with autograd); every other ufunc or method (``np.sin(t)``,
    ``np.add.reduce(t)``, ``out=``) runs in numpy on views of the tensors and gives numpy's
    result."""
    if method == "__call__" and not kwargs:
        name = ufunc.__name__
        if name in _BINARY and len(inputs) == 2:
            a, b = (x if isinstance(x, Tensor) or not _is_array(x) else asarray(x) for x in inputs)
            return _BINARY[name](a, b)
        if name in _UNARY and len(inputs) == 1:
            x = inputs[0]
            return -x if name == "negative" else getattr(x, _UNARY[name])()
    np = _np()
    conv = tuple(np.asarray(memoryview(x)) if isinstance(x, Tensor) else x for x in inputs)
    if "out" in kwargs:
        kwargs["out"] = tuple(np.asarray(memoryview(x)) if isinstance(x, Tensor) else x for x in kwargs["out"])
    return getattr(ufunc, method)(*conv, **kwargs)


def _is_array(x):
    return isinstance(x, _np().ndarray)


# ---- PyTorch names ----

def _check_dtype(dtype, what):
    np = _np() if dtype is not None and not isinstance(dtype, str) else None
    if dtype is None or dtype == "float32" or (np is not None and np.dtype(dtype) == np.float32):
        return
    raise TypeError(f"{what}: genc tensors are float32 only, {dtype!r} is not supported")


def _reduce(c_fn, name, x, dim, keepdim, axis, dtype, out, keepdims):
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}() got both dim= and axis= (they are the same argument)")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if out is not None:
        raise TypeError(f"{name}(): out= is not supported (genc returns a new tensor)")
    _check_dtype(dtype, name)
    if dim is None or isinstance(dim, int):
        return c_fn(x, dim, bool(keepdim))
    dims = sorted((_norm_dim(d, x.ndim, name) for d in dim), reverse=True)
    if len(set(dims)) != len(dims):
        raise ValueError(f"{name}: dim {tuple(dim)} names a dim twice")
    for d in dims:
        x = c_fn(x, d, True)
    if not keepdim and len(dims) < x.ndim:
        x = x.reshape(*[n for i, n in enumerate(x.shape) if i not in dims])
    elif not keepdim:
        x = x.reshape(())  # every dim reduced: 0-d, as in PyTorch
    return x


def sum(self, dim=None, keepdim=False, *, axis=None, dtype=None, out=None, keepdims=None):
    """sum(self, dim=None, keepdim=False, *, axis=None, dtype=None, out=None, keepdims=None)

    Sum over ``dim`` (an int or a tuple of ints; ``axis`` is numpy's name for it, either
    may be given, not both), or over everything (a 0-d tensor, shape ()). ``keepdim`` keeps the
    reduced dims with size 1; ``dtype`` may only be float32 and ``out`` only None (numpy's
    ``np.sum(t)`` passes them)."""
    return _reduce(_c_sum, "sum", self, dim, keepdim, axis, dtype, out, keepdims)


def mean(self, dim=None, keepdim=False, *, axis=None, dtype=None, out=None, keepdims=None):
    """mean(self, dim=None, keepdim=False, *, axis=None, dtype=None, out=None, keepdims=None)

    The mean over ``dim`` (see ``sum`` for the arguments)."""
    return _reduce(_c_mean, "mean", self, dim, keepdim, axis, dtype, out, keepdims)


def requires_grad_(self, requires_grad=True):
    """requires_grad_(self, requires_grad=True)

    Set ``requires_grad`` in place and return the tensor (PyTorch's spelling)."""
    self.requires_grad = requires_grad
    return self


def float(self):
    """float(self)

    The tensor itself: genc tensors are already float32 (as ``torch.Tensor.float`` on a
    float32 tensor)."""
    return self


def to(self, dtype=None, *, copy=False):
    """to(self, dtype=None, *, copy=False)

    The tensor itself (a copy with ``copy=True``) for dtype None, "float32" or
    numpy.float32; any other dtype raises TypeError, as genc has one dtype."""
    _check_dtype(dtype, "to")
    return self.clone() if copy else self


def _norm_dim(d, n, what):
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"{what}: dims are ints, found {type(d).__name__}")
    n = max(n, 1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
    if not -n <= d < n:
        raise IndexError(f"{what}: dim {d} out of range for {n} dims")
    return d % n


def permute(self, *dims):
    """permute(self, *dims)

    The dims reordered (``t.permute(2, 0, 1)`` or ``t.permute((2, 0, 1))``), a view made of
    transposes, with autograd."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    n = self.ndim
    order = [_norm_dim(d, n, "permute") for d in dims]
    if sorted(order) != list(range(n)):
        raise ValueError(f"permute: {tuple(dims)} is not a permutation of the {n} dims")
    cur, x = list(range(n)), self
    for i in range(n):  # selection: bring the wanted dim to position i
        j = cur.index(order[i])
        if j != i:
            x = x.transpose(i, j)
            cur[i], cur[j] = cur[j], cur[i]
    return x


def unsqueeze(self, dim):
    """unsqueeze(self, dim)

    A size-1 dim inserted at ``dim`` (-ndim-1 <= dim <= ndim), as a reshape (with autograd)."""
    n = self.ndim
    d = _norm_dim(dim, n + 1, "unsqueeze")
    if n >= 4:
        raise ValueError("unsqueeze: genc tensors have at most 4 dims")
    shape = list(self.shape)
    shape.insert(d, 1)
    return self.reshape(*shape)


def squeeze(self, dim=None):
    """squeeze(self, dim=None)

    The size-1 dims removed (all of them, or only ``dim`` when it has size 1), as a reshape
    (with autograd); squeezing every dim of a one-element tensor gives a 0-d tensor."""
    shape = list(self.shape)
    if dim is None:
        keep = [n for n in shape if n != 1]
    else:
        d = _norm_dim(dim, len(shape), "squeeze")
        keep = shape[:d] + shape[d + 1:] if shape and shape[d] == 1 else shape
    return self.reshape(tuple(keep))


_MISSING = object()


def full(*size, fill_value=_MISSING, value=_MISSING, requires_grad=False):
    """full(*size, fill_value, requires_grad=False)

    A tensor of ``size`` filled with ``fill_value``: PyTorch's ``full((2, 3), 7.0)`` (or
    ``fill_value=7.0``), and genc's older ``full(2, 3, value=7.0)``."""
    if len(size) == 2 and isinstance(size[0], (tuple, list)) and fill_value is _MISSING and value is _MISSING:
        size, fill_value = size[0], size[1]
    elif len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    if fill_value is not _MISSING and value is not _MISSING:
        raise TypeError("full() got both fill_value= and value= (the same argument)")
    v = value if fill_value is _MISSING else fill_value
    if v is _MISSING:
        raise TypeError("full() missing its fill value: full(size, fill_value) or full(*shape, value=v)")
    return _genc.full(*size, value=v, requires_grad=requires_grad)


class set_grad_enabled:
    """set_grad_enabled(mode)

    Turn autograd recording on or off for this thread, at once (as PyTorch does); used as a
    context manager (``with genc.set_grad_enabled(False): ...``) the previous mode comes back
    on exit. ``bool(set_grad_enabled(m))`` is the previous mode, as before."""

    def __init__(self, mode):
        self.prev = _genc.set_grad_enabled(bool(mode))
        self.mode = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _genc.set_grad_enabled(self.prev)
        return False

    def __bool__(self):
        return self.prev

    def __repr__(self):
        return f"genc.set_grad_enabled({self.mode})"


# ---- subclasses: pickle and deepcopy keep the class and the instance's attributes ----

def _rebuild_subclass(cls, fn, args, state):
    base = fn(*args)
    t = Tensor.__new__(cls, base, base.requires_grad)
    if state:
        vars(t).update(state)
    return t


def _subclass_reduce_ex(self, protocol):
    fn, args = Tensor.__reduce__(self)
    return _rebuild_subclass, (type(self), fn, args, dict(vars(self)))


def _subclass_deepcopy(self, memo):
    import copy
    base = Tensor.__deepcopy__(self, memo)
    t = Tensor.__new__(type(self), base, base.requires_grad)
    memo[id(self)] = t
    vars(t).update(copy.deepcopy(dict(vars(self)), memo))
    return t


def __init_subclass__(cls, **kwargs):
    """__init_subclass__(cls, **kwargs)

    Gives each subclass of genc.Tensor a pickle and copy.deepcopy that keep its class and
    its instances' attributes (genc.Tensor's own give a plain genc.Tensor)."""
    super(Tensor, cls).__init_subclass__(**kwargs)
    if "__reduce_ex__" not in vars(cls) and "__reduce__" not in vars(cls):
        cls.__reduce_ex__ = _subclass_reduce_ex
    if "__deepcopy__" not in vars(cls):
        cls.__deepcopy__ = _subclass_deepcopy


__init_subclass__ = classmethod(__init_subclass__)

class inference_mode:
    """inference_mode(mode=True)

    PyTorch's inference mode: with ``mode`` true, ops record no autograd graph (genc has no
    separate inference tensors, so this is ``no_grad``); ``inference_mode(False)`` leaves grad
    mode as it is. A context manager and a decorator (``@genc.inference_mode()`` or
    ``@genc.inference_mode``); per thread, as grad mode."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, (bool, int)):  # @genc.inference_mode without parentheses
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self._prev = []

    def __enter__(self):
        self._prev.append(_genc.is_grad_enabled())
        if self.mode:
            _genc.set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        _genc.set_grad_enabled(self._prev.pop())
        return False

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"inference_mode() decorates callables, found {type(fn).__name__}")
        import functools
        mode = self.mode

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return run

    def __repr__(self):
        return f"genc.inference_mode({self.mode})"


_METHODS = ("__array__", "__array_ufunc__", "sum", "mean", "requires_grad_", "float", "to", "permute",
            "unsqueeze", "squeeze", "__init_subclass__")


def install():
    """Put the methods above on genc.Tensor (called once, by genc/__init__.py)."""
    g = globals()
    _genc._install_tensor_methods({name: g[name] for name in _METHODS})
