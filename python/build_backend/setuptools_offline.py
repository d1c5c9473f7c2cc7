"""A PEP 517 backend that is setuptools, found without the network when possible.

pip builds in an isolated environment and would download setuptools into it, which fails
offline. This backend declares no static build requirements; it uses the setuptools (and,
for setuptools older than 70.1, wheel) installed alongside the Python running the build, and
only when that Python has none does it ask pip for them (get_requires_for_build_*), which then
needs the network as usual. Every hook is setuptools' own.
"""

import importlib
import site
import sys


def _add_interpreter_site_packages():
    # pip's isolation hides the interpreter's site-packages; putting them back *after* the
    # isolated environment's own paths keeps anything pip installed there first.
    prefixes = [sys.prefix]
    if getattr(sys, "base_prefix", sys.prefix) != sys.prefix:
        prefixes.append(sys.base_prefix)
    try:
        folders = site.getsitepackages(prefixes)
    except (AttributeError, TypeError):  # some virtualenvs ship an old site.py
        folders = []
    for folder in folders:
        if folder not in sys.path:
            sys.path.append(folder)
    importlib.invalidate_caches()


def _importable(name):
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def _missing():
    if not _importable("setuptools.build_meta"):
        _add_interpreter_site_packages()
    if not _importable("setuptools.build_meta"):
        return ["setuptools>=61"]
    import setuptools

    major_minor = tuple(int(part) for part in setuptools.__version__.split(".")[:2] if part.isdigit())
    if major_minor < (70, 1) and not _importable("wheel"):
        return ["wheel"]
    return []


def _backend():
    _missing()
    from setuptools import build_meta

    return build_meta


def get_requires_for_build_wheel(config_settings=None):
    return _missing()


def get_requires_for_build_sdist(config_settings=None):
    return _missing()


def get_requires_for_build_editable(config_settings=None):
    return _missing()


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _backend().prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _backend().build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    return _backend().build_sdist(sdist_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _backend().prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _backend().build_editable(wheel_directory, config_settings, metadata_directory)
