"""Discoverability: genc.__all__ lists the public names; every public class and function has
its own docstring and an inspect.signature (C functions through their "name(sig)\\n--\\n\\n"
docstrings), and so does every public method of genc.Tensor."""
import inspect

import pytest

import genc



def own_doc(obj):
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else obj.__doc__
    return doc.strip() if isinstance(doc, str) else ""


def test_all_lists_the_public_names():
    public = {n for n in dir(genc) if not n.startswith("_") and not inspect.ismodule(getattr(genc, n))}
    assert set(genc.__all__) == public
    for n in ("tensor", "from_numpy", "asarray", "zeros", "full", "no_grad", "set_grad_enabled", "Tensor", "Linear"):
        assert n in genc.__all__
    ns = {}
    exec("from genc import *", ns)
    assert set(genc.__all__) <= set(ns)


@pytest.mark.parametrize("name", sorted(genc.__all__))
def test_public_name_has_doc_and_signature(name):
    obj = getattr(genc, name)
    if not callable(obj):
        return  # __version__-like constants
    assert own_doc(obj), f"genc.{name} has no docstring of its own"
    inspect.signature(obj)


CORES = ["Tokenizer", "LMCore", "PrefixCore", "NICECore", "ClassifierCore", "DataLoader", "UNetCore"]


@pytest.mark.parametrize("name", CORES)
def test_model_core_signatures_match_their_parsers(name):
    """Each parameter the text signature names is a keyword the C constructor parses (given
    an odd value it is refused for its type or taken as a flag, never as an unknown keyword),
    and the count matches (one positional argument more is refused as 'at most N')."""
    cls = getattr(genc._genc, name)
    params = inspect.signature(cls).parameters
    assert params, name
    optional = all(q.default is not inspect.Parameter.empty for q in params.values())
    for p in list(params) + (["no_such_argument"] if optional else []):  # the check itself can fail
        try:
            cls(**{p: object()})
            err = ""
        except Exception as e:  # noqa: BLE001 (any refusal but an unknown keyword will do)
            err = str(e)
        assert ("invalid keyword" in err) == (p == "no_such_argument"), (name, p, err)
    with pytest.raises(TypeError, match=f"at most {len(params)} argument"):
        cls(*[object()] * (len(params) + 1))


def test_tensor_methods_have_doc_and_signature():
    missing = []
    for n in dir(genc.Tensor):
        if n.startswith("_") and n not in ("__array__", "__array_ufunc__", "__format__"):
            continue
        m = getattr(genc.Tensor, n)
        if not callable(m) or isinstance(inspect.getattr_static(genc.Tensor, n), property):
            continue
        try:
            inspect.signature(m)
        except ValueError:
            missing.append(n)
        if not (m.__doc__ or "").strip():
            missing.append(n + " (doc)")
    assert not missing


def test_signatures_match_the_arguments():
    assert str(inspect.signature(genc.zeros)) == "(*shape, requires_grad=False)"
    assert list(inspect.signature(genc.conv2d).parameters) == ["x", "weight", "bias", "stride", "padding"]
    assert str(inspect.signature(genc.AdamW)).startswith("(params, lr=0.001")
    assert list(inspect.signature(genc.Tensor.sum).parameters)[:3] == ["self", "dim", "keepdim"]
    x = genc.randn(2, 3, 4, 8)
    a = genc.attention(x, x, x)
    assert genc.attention(x, x, x, scale=None).tolist() == a.tolist()  # the signature's default works
    assert genc.attention(x, x, x, 8 ** -0.5).tolist() == a.tolist()
