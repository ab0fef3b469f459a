"""genc.AdamW and genc.SGD with parameter groups, as torch.optim: ``params`` is an iterable
of tensors or of dicts (``{'params': [...], 'lr': 1e-4, ...}``), each group's missing
settings come from the constructor's arguments, and ``param_groups`` is the list of those
dicts: editing ``group['lr']`` (what learning-rate schedules do) or ``weight_decay`` takes
effect at the next ``step()``. Each group is stepped by one C optimiser
(``genc._genc.AdamW`` / ``SGD``: moments, frozen parameters, read-only checks)."""
from . import _genc
from ._genc import Tensor

__all__ = ["AdamW", "SGD"]


def _number(group, key, what):
    v = group[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
        raise ValueError(f"{what}: param group setting {key!r} must be a number >= 0, found {v!r}")
    return float(v)


def _tensor_from(raw, like):
    """A float32 Tensor of like's shape from a buffer's bytes."""
    import numpy as np
    return _genc.tensor(np.frombuffer(raw, dtype=np.float32).reshape(like.shape).copy())


def _bytes_of(t, like, name):
    if not isinstance(t, Tensor) or tuple(t.shape) != tuple(like.shape):
        raise ValueError(f"load_state_dict: {name}: expected a Tensor of shape {tuple(like.shape)}, found "
                         f"{getattr(t, 'shape', type(t).__name__)}")
    import numpy as np
    return np.ascontiguousarray(np.asarray(t), dtype=np.float32).tobytes()


class _Optimizer:
    """The parameter-group bookkeeping shared by AdamW and SGD."""

    _core = None    # the C optimiser type
    _groups = None  # None until __init__ ran (an object made by __new__ alone refuses to work)

    def _init(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name()}: params must be an iterable of tensors or of dicts, found one Tensor")
        if isinstance(params, dict):
            raise TypeError(f"{self._name()}: params must be an iterable of tensors or of dicts, found one dict "
                            "(wrap it in a list)")
        self.defaults = dict(defaults)
        self.param_groups, self._cores, self._groups = [], [], []
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name()}: got an empty parameter list")
        if not all(isinstance(g, dict) for g in groups):
            if any(isinstance(g, dict) for g in groups):
                raise TypeError(f"{self._name()}: params mixes dicts (parameter groups) and tensors")
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def _name(self):
        return f"genc.{type(self).__name__}"

    def _ready(self):
        if self._groups is None:
            raise RuntimeError(f"{self._name()} not initialised")

    def add_param_group(self, param_group):
        """Add a dict with a 'params' entry (tensors) and any settings that differ from the
        defaults; a tensor may be in one group only (ValueError)."""
        self._ready()
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name()}: a parameter group is a dict, found {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name()}: a parameter group needs a 'params' entry")
        group = dict(param_group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        if not ps:
            raise ValueError(f"{self._name()}: a parameter group has no parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps) or len({id(p) for p in ps}) != len(ps):
            raise ValueError(f"{self._name()}: some parameters appear in more than one parameter group (or twice in one)")
        group["params"] = ps
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        core = self._make_core(ps, group)  # the C optimiser checks the tensors (type, layout, read-only)
        self.param_groups.append(group)
        self._cores.append(core)
        self._groups.append(group)

    def _sync(self, group, core):
        core.lr = _number(group, "lr", self._name())
        core.weight_decay = _number(group, "weight_decay", self._name())

    def _check_groups(self):
        """The groups still hold the tensors their C optimisers step (editing settings is
        fine; replacing, removing or adding tensors or groups in place is refused)."""
        if not isinstance(self.param_groups, list) or len(self.param_groups) != len(self._groups) or \
                any(g is not h for g, h in zip(self.param_groups, self._groups)):
            raise RuntimeError(f"{self._name()}: param_groups was replaced or resized; add groups with add_param_group")
        for i, (g, core) in enumerate(zip(self.param_groups, self._cores)):
            ps = g.get("params")
            if not isinstance(ps, list) or len(ps) != len(core.params) or any(p is not q for p, q in zip(ps, core.params)):
                raise RuntimeError(f"{self._name()}: param_groups[{i}]['params'] changed after the group was added; "
                                   "add tensors with add_param_group")

    def step(self, lr=None):
        """One update of every group from the current gradients; ``lr`` (when given)
        overrides every group's learning rate for this step only."""
        self._ready()
        self._check_groups()
        for group, core in zip(self.param_groups, self._cores):
            self._sync(group, core)
        for core in self._cores:
            core.step() if lr is None else core.step(lr)

    def zero_grad(self):
        """Zero every parameter's gradient."""
        self._ready()
        for core in self._cores:
            core.zero_grad()

    @property
    def lr(self):
        """The first group's learning rate; setting it sets every group's."""
        self._ready()
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self._ready()
        for g in self.param_groups:
            g["lr"] = value

    @property
    def steps(self):
        """Updates done (the most any group has done)."""
        self._ready()
        return max(core.steps for core in self._cores)

    @property
    def params(self):
        """Every parameter, group by group (a tuple)."""
        self._ready()
        return tuple(p for g in self.param_groups for p in g["params"])

    _buffers = ()  # the names state_dict gives a parameter's buffers: exp_avg, exp_avg_sq / momentum_buffer

    def state_dict(self):
        """As torch.optim: {'state': {index: {'step', buffer name: Tensor}}, 'param_groups': [the
        settings with 'params' as indices]}; indices count the parameters group by group.
        The buffers are copies."""
        self._ready()
        self._check_groups()
        state, groups, k = {}, [], 0
        for g, core in zip(self.param_groups, self._cores):
            steps, m, v = core._state()
            idx = list(range(k, k + len(g["params"])))
            for i, p in enumerate(g["params"]):
                bufs = {name: _tensor_from(b, p) for name, b in zip(self._buffers, (m[i], v[i])) if b is not None}
                state[k + i] = {"step": steps, **bufs}
            groups.append({**{key: val for key, val in g.items() if key != "params"}, "params": idx})
            k += len(idx)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what state_dict gave (of an optimiser with the same groups and sizes); the
        settings of each group are replaced too. A mismatch raises ValueError before
        anything changes."""
        self._ready()
        self._check_groups()
        groups, state = state_dict["param_groups"], state_dict["state"]
        if len(groups) != len(self.param_groups) or \
                any(len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{self._name()}: load_state_dict: the groups or their sizes differ from this optimiser's")
        loads = []
        for g, saved, core in zip(self.param_groups, groups, self._cores):
            steps, m, v = core._state()
            new = [[None if b is None else _bytes_of(state[j][name], p, name)
                    for j, p, b in zip(saved["params"], g["params"], bufs)]
                   for name, bufs in zip(self._buffers, (m, v))]
            while len(new) < 2:
                new.append([None] * len(g["params"]))
            step = max((state[j]["step"] for j in saved["params"] if j in state), default=steps)
            loads.append((core, saved, int(step), tuple(new[0]), tuple(new[1])))
        for core, saved, step, m, v in loads:
            core._set_state(step, m, v)
        for g, (_, saved, _, _, _) in zip(self.param_groups, loads):
            g.update({key: val for key, val in saved.items() if key != "params"})

    def __getstate__(self):  # pickle and copy.deepcopy: the groups (with their tensors) and the buffers
        self._ready()
        self._check_groups()
        return {"defaults": self.defaults, "groups": [dict(g) for g in self.param_groups],
                "state": [core._state() for core in self._cores]}

    def __setstate__(self, st):
        self.defaults = dict(st["defaults"])
        self.param_groups, self._cores, self._groups = [], [], []
        for g in st["groups"]:
            self.add_param_group(g)
        for core, (steps, m, v) in zip(self._cores, st["state"]):
            core._set_state(steps, m, v)

    def __repr__(self):
        if self._groups is None:
            return f"{self._name()}(not initialised)"
        n = sum(p.numel() for p in self.params)
        lrs = ", ".join(f"{g['lr']:g}" for g in self.param_groups)
        return f"{self._name()}({len(self.param_groups)} group(s), {len(self.params)} tensors, {n} values, lr=[{lrs}], " \
               f"steps={self.steps})"


class AdamW(_Optimizer):
    """AdamW(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)

    AdamW (decoupled weight decay, applied to tensors with 2 or more dims only) over tensors
    or parameter groups (dicts with 'params' and any of lr, betas, eps, weight_decay)."""

    _core = _genc.AdamW
    _buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01):
        self._init(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _betas(self, group):
        b = group["betas"]
        if not isinstance(b, (tuple, list)) or len(b) != 2 or not all(isinstance(x, (int, float)) and 0 <= x < 1 for x in b):
            raise ValueError(f"{self._name()}: betas must be two numbers in [0, 1), found {b!r}")
        return float(b[0]), float(b[1])

    def _make_core(self, ps, group):
        return self._core(ps, _number(group, "lr", self._name()), self._betas(group), _number(group, "eps", self._name()),
                          _number(group, "weight_decay", self._name()))

    def _sync(self, group, core):
        super()._sync(group, core)
        core.beta1, core.beta2 = self._betas(group)
        core.eps = _number(group, "eps", self._name())


class SGD(_Optimizer):
    """SGD(params, lr=0.001, momentum=0.0, weight_decay=0.0)

    Stochastic gradient descent (with momentum when asked) over tensors or parameter groups
    (dicts with 'params' and any of lr, momentum, weight_decay)."""

    _core = _genc.SGD
    _buffers = ("momentum_buffer",)

    def __init__(self, params, lr=0.001, momentum=0.0, weight_decay=0.0):
        self._init(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _make_core(self, ps, group):
        return self._core(ps, _number(group, "lr", self._name()), _number(group, "momentum", self._name()),
                          _number(group, "weight_decay", self._name()))

    def _sync(self, group, core):
        super()._sync(group, core)
        core.momentum = _number(group, "momentum", self._name())
