"""Type stubs: genc/_genc.pyi names every public function, class, method and property of the
built extension, and each stub signature has the runtime's parameter names, kinds and
defaults (inspect.signature); py.typed marks the package as typed (PEP 561), next to the
stub wherever genc is imported from (the build tree or an install)."""
import ast
import inspect
import os

import pytest

import genc
from genc import _genc

PKG = os.path.dirname(genc.__file__)
STUB = os.path.join(PKG, "_genc.pyi")
# dunder methods whose runtime signature is compared when the type defines them
DUNDERS = {"__array__", "__array_ufunc__", "__format__", "__getitem__", "__len__", "__iter__", "__next__",
           "__enter__", "__exit__", "__call__", "__init_subclass__"}
KINDS = inspect.Parameter


def load_stub():
    with open(STUB) as f:
        tree = ast.parse(f.read())
    funcs, classes = {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            funcs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            members = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members[item.name] = item
                elif isinstance(item, ast.AnnAssign):
                    members[item.target.id] = item
            classes[node.name] = members
    names = {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    return funcs, classes, names


def stub_params(fn, drop_first):
    """(name, kind, default) of a stub def, as inspect reports them."""
    a = fn.args
    out = []
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + a.defaults
    for i, (arg, d) in enumerate(zip(pos, defaults)):
        kind = KINDS.POSITIONAL_ONLY if i < len(a.posonlyargs) else KINDS.POSITIONAL_OR_KEYWORD
        out.append((arg.arg, kind, KINDS.empty if d is None else ast.literal_eval(d)))
    if a.vararg:
        out.append((a.vararg.arg, KINDS.VAR_POSITIONAL, KINDS.empty))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, KINDS.KEYWORD_ONLY, KINDS.empty if d is None else ast.literal_eval(d)))
    if a.kwarg:
        out.append((a.kwarg.arg, KINDS.VAR_KEYWORD, KINDS.empty))
    return out[1:] if drop_first else out


def runtime_params(obj):
    return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]


def public(names):
    return sorted(n for n in names if not n.startswith("_"))


def test_py_typed_and_stub_sit_in_the_package():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))
    assert os.path.isfile(STUB)


def test_every_public_name_has_a_stub():
    funcs, classes, names = load_stub()
    missing = [n for n in public(dir(_genc)) if n not in funcs and n not in classes and n not in names]
    assert not missing, f"no stub for genc._genc.{missing}"
    extra = [n for n in public(list(funcs) + list(classes)) if not hasattr(_genc, n)]
    assert not extra, f"stubs for names the module lacks: {extra}"


@pytest.mark.parametrize("name", public(n for n in dir(_genc) if inspect.isroutine(getattr(_genc, n))))
def test_function_stub_signatures_match(name):
    funcs, _, _ = load_stub()
    assert stub_params(funcs[name], False) == runtime_params(getattr(_genc, name)), name


@pytest.mark.parametrize("name", public(n for n in dir(_genc) if isinstance(getattr(_genc, n), type)))
def test_class_stubs_list_and_match_every_member(name):
    cls = getattr(_genc, name)
    _, classes, _ = load_stub()
    members = classes[name]
    # the constructor: the stub's __init__ without self against the class's signature
    assert "__init__" in members, name
    assert stub_params(members["__init__"], True) == runtime_params(cls), name
    for m, value in vars(cls).items():
        if m.startswith("_") and m not in DUNDERS:
            continue
        assert m in members, f"genc._genc.{name}.{m} has no stub"
        if isinstance(members[m], ast.AnnAssign) or inspect.isdatadescriptor(value):
            continue  # a property or attribute: its name is what can be checked
        stub = members[m]
        is_class_method = any(isinstance(d, ast.Name) and d.id == "classmethod" for d in stub.decorator_list)
        runtime = getattr(cls, m)  # a classmethod comes bound (no cls), a method unbound (with self)
        assert stub_params(stub, is_class_method) == runtime_params(runtime), f"{name}.{m}"
    for m in public(members):
        assert hasattr(cls, m), f"the stub of {name} lists {m}, which the type lacks"
