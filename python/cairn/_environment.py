"""What init() adds to the core's record of the environment: the Python version, the script's
command line, and the version of every package the script has imported so far (torch, numpy,
…), found through ``importlib.metadata`` or, failing that, the module's ``__version__``."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from typing import Any, Dict, List, Optional

try:
    import importlib.metadata as _metadata
except ImportError:  # pragma: no cover - Python < 3.8
    _metadata = None  # type: ignore[assignment]

_SKIP = {"__main__", "cairn", "builtins", "site", "sitecustomize", "usercustomize"}


def runtimes() -> Dict[str, str]:
    """``{"python": "3.11.2"}`` (with the implementation when it is not CPython)."""
    implementation = platform.python_implementation()
    version = platform.python_version()
    return {"python": version if implementation == "CPython" else f"{version} ({implementation})"}


def command() -> List[str]:
    """The script's command line, as the core records it: ``["python3", "train.py", "--lr", "0.1"]``."""
    executable = os.path.basename(sys.executable or "") or "python"
    return [executable, *sys.argv]


def _stdlib_names() -> set:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return set(names) | set(sys.builtin_module_names)
    return set(sys.builtin_module_names)


def _is_stdlib_file(module: Any) -> bool:
    # Python 3.9 has no sys.stdlib_module_names: a module whose file lies in the standard
    # library's folder (and not in a site-packages below it) is part of Python.
    file = getattr(module, "__file__", None)
    if not file:
        return True
    stdlib = os.path.normcase(os.path.realpath(sysconfig.get_paths()["stdlib"]))
    where = os.path.normcase(os.path.realpath(file))
    return where.startswith(stdlib + os.sep) and "site-packages" not in where and "dist-packages" not in where


def imported_packages(modules: Optional[Dict[str, Any]] = None) -> Dict[str, Dict[str, Any]]:
    """
    ``{distribution name: {"source": "imported", "declared": None, "installed": version}}`` for
    the top-level modules imported so far that come from an installed package.
    """
    modules = dict(sys.modules if modules is None else modules)
    stdlib = _stdlib_names()
    try:
        distributions = _metadata.packages_distributions() if _metadata and hasattr(_metadata, "packages_distributions") else {}
    except Exception:  # noqa: BLE001 - broken metadata of one package must not stop init()
        distributions = {}
    found: Dict[str, Dict[str, Any]] = {}
    for name, module in modules.items():
        if "." in name or name.startswith("_") or name in _SKIP or name in stdlib or module is None:
            continue
        # Namespace packages (no __file__) are often set up by .pth files at startup, not
        # imported by the script: mpl_toolkits would list matplotlib for every script.
        if getattr(module, "__file__", None) is None:
            continue
        if not distributions and _is_stdlib_file(module):
            continue
        versions = {}
        for distribution in distributions.get(name, []):
            try:
                versions[distribution] = _metadata.version(distribution)
            except Exception:  # noqa: BLE001
                continue
        if not versions:
            version = getattr(module, "__version__", None)
            if isinstance(version, str) and version:
                versions[name] = version
        for distribution, version in versions.items():
            if distribution.lower() == "cairn":
                continue
            found[distribution] = {"source": "imported", "declared": None, "installed": str(version)}
    return dict(sorted(found.items()))
