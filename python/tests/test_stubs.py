"""The type stubs shipped with the package (.pyi) describe the functions as they are: every public
name has a stub, and each function's and method's parameters (names, keyword-only or not,
defaults) are the extension's."""

import ast
import inspect
import pathlib

import pytest

import fvae
import fvae._fvae
import fvae.dask

PACKAGE = pathlib.Path(fvae.__file__).parent


def stub_defs(module):
    """{qualified name: ast.FunctionDef} of a stub file, methods as Class.method."""
    tree = ast.parse((PACKAGE / f"{module}.pyi").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            out[node.name] = node
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out[f"{node.name}.{item.name}"] = item
    return out


def stub_params(fn):
    """[(name, keyword_only, default)] of a stub's def, without self."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
    params = [(p.arg, False, d) for p, d in zip(positional, defaults)]
    params += [(p.arg, True, inspect.Parameter.empty if d is None else ast.literal_eval(d)) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return [p for p in params if p[0] not in ("self", "cls")]


def runtime_params(obj):
    sig = inspect.signature(obj)
    return [(p.name, p.kind is p.KEYWORD_ONLY, p.default) for p in sig.parameters.values() if p.name not in ("self", "$self")]


def runtime_callables():
    """(module, stub name, object) for every public function, constructor and method."""
    for name in fvae.__all__:
        obj = getattr(fvae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        if inspect.isclass(obj):
            yield "_fvae", f"{name}.__init__", obj
            for m, v in vars(obj).items():
                if not m.startswith("_") and callable(v):
                    yield "_fvae", f"{name}.{m}", getattr(obj, m)
        else:
            yield "_fvae", name, obj
    for name in fvae.dask.__all__:
        yield "dask", name, getattr(fvae.dask, name)


CASES = list(runtime_callables())


@pytest.mark.parametrize("module,name,obj", CASES, ids=[c[1] for c in CASES])
def test_stub_matches_the_extension(module, name, obj):
    stubs = stub_defs(module)
    assert name in stubs, f"{name} has no stub in {module}.pyi"
    assert stub_params(stubs[name]) == runtime_params(obj), name


def test_every_public_class_and_property_has_a_stub():
    stubs = stub_defs("_fvae")
    for name in fvae.__all__:
        obj = getattr(fvae, name)
        assert name in stubs, name
        if inspect.isclass(obj):
            for m, v in vars(obj).items():
                if not m.startswith("_") and not callable(v):  # properties
                    assert f"{name}.{m}" in stubs, f"{name}.{m}"
    assert len(CASES) >= 30
