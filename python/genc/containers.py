"""Module containers, as in PyTorch: ``ModuleList`` (an indexable list of modules),
``ModuleDict`` (modules by str key, in insertion order) and ``Sequential`` (a ModuleList
whose forward applies its modules in turn). Their children are named by index or key, so
a container held as ``self.layers`` gives parameter and ``state_dict`` names such as
``layers.0.weight`` and ``heads.policy.bias``, PyTorch's names for the same tree."""
from . import Module, _CModule

__all__ = ["ModuleList", "ModuleDict", "Sequential"]


def _check_module(what, m):
    if not isinstance(m, _CModule):
        raise TypeError(f"{what}: expected a genc.Module, found {type(m).__name__}")
    return m


def _check_key(what, k):
    if not isinstance(k, str):
        raise TypeError(f"{what}: keys are str, found {type(k).__name__}")
    if not k or "." in k:
        raise KeyError(f"{what}: a key must be a non-empty name without '.', found {k!r}")
    return k


class ModuleList(Module):
    """ModuleList(modules=None)

    A list of modules whose parameters the owner finds (named ``0``, ``1``, ...). Supports
    indexing (a slice gives a ModuleList), assignment, ``del``, ``len``, iteration,
    ``append``, ``extend``, ``insert`` and ``+=``; anything but a genc.Module is refused
    (TypeError)."""

    def __init__(self, modules=None):
        super().__init__()
        self._items = []
        if modules is not None:
            self.extend(modules)

    def named_children(self):
        seen = set()
        for i, m in enumerate(self._items):
            if id(m) not in seen:
                seen.add(id(m))
                yield str(i), m

    def _own_parameters(self):
        return iter(())

    def _index(self, i):
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"{type(self).__name__} indices are ints or slices, found {type(i).__name__}")
        n = len(self._items)
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__} index {i} out of range for {n} modules")
        return i % n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*self._items[i]) if isinstance(self, Sequential) else ModuleList(self._items[i])
        return self._items[self._index(i)]

    def __setitem__(self, i, m):
        self._items[self._index(i)] = _check_module(f"{type(self).__name__}[{i}] =", m)

    def __delitem__(self, i):
        if isinstance(i, slice):
            del self._items[i]
        else:
            del self._items[self._index(i)]

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items))

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, m):
        """Add a module at the end; returns self."""
        self._items.append(_check_module(f"{type(self).__name__}.append", m))
        return self

    def extend(self, modules):
        """Add every module of an iterable at the end; returns self."""
        if isinstance(modules, _CModule) and not isinstance(modules, ModuleList):
            raise TypeError(f"{type(self).__name__}.extend: expected an iterable of modules, found one module")
        new = [_check_module(f"{type(self).__name__}.extend", m) for m in modules]
        self._items.extend(new)
        return self

    def insert(self, index, m):
        """Insert a module before ``index``."""
        self._items.insert(index, _check_module(f"{type(self).__name__}.insert", m))


class Sequential(ModuleList):
    """Sequential(*modules)

    Modules applied in order: ``forward(x)`` feeds x through each. Its children are named
    ``0``, ``1``, ... (PyTorch's state_dict names); indexing with a slice gives a Sequential."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for m in self._items:
            x = m(x)
        return x


class ModuleDict(Module):
    """ModuleDict(modules=None)

    Modules by str key, in insertion order (a dict or an iterable of (key, module) pairs);
    the owner finds their parameters as ``<attr>.<key>.<name>``. Supports ``[]``, ``del``,
    ``in``, ``len``, iteration over keys, ``keys``, ``values``, ``items``, ``update``,
    ``pop`` and ``clear``. Keys are non-empty str without '.'; values are genc.Modules."""

    def __init__(self, modules=None):
        super().__init__()
        self._items = {}
        if modules is not None:
            self.update(modules)

    def named_children(self):
        seen = set()
        for k, m in self._items.items():
            if id(m) not in seen:
                seen.add(id(m))
                yield k, m

    def _own_parameters(self):
        return iter(())

    def __getitem__(self, k):
        return self._items[k]

    def __setitem__(self, k, m):
        self._items[_check_key("ModuleDict", k)] = _check_module(f"ModuleDict[{k!r}] =", m)

    def __delitem__(self, k):
        del self._items[k]

    def __contains__(self, k):
        return k in self._items

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items))

    def keys(self):
        return self._items.keys()

    def values(self):
        return self._items.values()

    def items(self):
        return self._items.items()

    def update(self, modules):
        """Add or replace modules from a dict (or ModuleDict) or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: expected (key, module) pairs, found {type(pair).__name__}")
            self[pair[0]] = pair[1]

    def pop(self, k):
        """Remove the module at ``k`` and return it (KeyError when absent)."""
        return self._items.pop(k)

    def clear(self):
        self._items.clear()
