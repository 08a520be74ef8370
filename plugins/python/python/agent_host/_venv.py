"""``site``, and a virtualenv's packages in the interpreter that is already running, as
that venv's own ``python`` would see them.

The plugin starts its interpreter as the base Python (the one the plugin links) with
``site`` deferred (``-S``): which site-packages belong on ``sys.path`` depends on the
first runtime's ``venv``, known only when that runtime is made (``prepare``). A venv
made with ``include-system-site-packages = false`` (``python -m venv``'s default)
promises that none of the base site-packages, nor the user's, are visible: for it the
base ``.pth`` files never run (they may import whole packages: one that imports
``certifi`` cost 26 ms of every start-up). Otherwise ``site`` runs as it would have
at start-up, and the venv's packages go before the base ones.

When a later runtime names another venv, or the host embeds Python itself (its
``site`` already ran), the base site-packages are taken off ``sys.path`` instead
(``activate``). ``sys.path`` is the process's: this applies to every runtime of the
plugin, and a module already imported from the base site-packages stays imported.
"""

from __future__ import annotations

import os
import site
import sys
from typing import Iterable, List, Optional

__all__ = ["activate", "base_site_dirs", "includes_system_site_packages", "prepare"]


def includes_system_site_packages(venv: str) -> bool:
    """What the venv's ``pyvenv.cfg`` says (read as ``site`` reads it); a directory
    without one is not a venv in ``site``'s sense, so the base packages stay."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as config:
            lines = config.read().splitlines()
    except OSError:
        return True
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "include-system-site-packages":
            return value.strip().lower() == "true"
    return True


def base_site_dirs() -> List[str]:
    """The base interpreter's site-packages directories, the user's one included when
    ``site`` enabled it."""
    dirs = list(site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]))
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs


def _pth_dirs(sitedir: str) -> List[str]:
    """The directories the ``.pth`` files in ``sitedir`` added, found as ``site`` finds
    them but without running their ``import`` lines."""
    try:
        names = sorted(name for name in os.listdir(sitedir) if name.endswith(".pth"))
    except OSError:
        return []
    dirs = []
    for name in names:
        try:
            with open(os.path.join(sitedir, name), encoding="utf-8") as pth:
                lines = pth.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            line = line.rstrip()
            if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = os.path.join(sitedir, line)
            if os.path.exists(path):
                dirs.append(path)
    return dirs


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _hide(dirs: Iterable[str]) -> None:
    hidden = set()
    for sitedir in dirs:
        hidden.add(_key(sitedir))
        hidden.update(_key(path) for path in _pth_dirs(sitedir))
    sys.path[:] = [entry for entry in sys.path if _key(entry) not in hidden]


def activate(venv: str, site_packages: str) -> None:
    """Takes the base site-packages off ``sys.path`` unless the venv includes them, then
    adds the venv's ``site_packages`` (reading its ``.pth`` files) before the
    interpreter's own site-packages (as in a real venv, or the older copies there would
    win), the standard library staying first."""
    path = sys.path
    if not includes_system_site_packages(venv):
        _hide(base_site_dirs())
    known = len(path)
    first_site = next(
        (index for index, entry in enumerate(path) if entry.endswith("site-packages")),
        known,
    )
    site.addsitedir(site_packages)
    added = path[known:]
    del path[known:]
    path[first_site:first_site] = added


def _run_site(venv: Optional[str]) -> None:
    """Does what ``site`` would have done at start-up, as a venv's own ``python`` does it
    when ``venv`` excludes the base packages: neither the base site-packages nor the
    user's are read (their ``.pth`` files do not run); ``sitecustomize`` still runs."""
    if venv is not None and not includes_system_site_packages(venv):
        site.ENABLE_USER_SITE = False
        site.PREFIXES = []
    site.main()


def prepare(venv: Optional[str], site_packages: Optional[str], run_site: bool) -> None:
    """Makes ``sys.path`` what a runtime with this ``venv`` (and its ``site_packages``)
    or none needs: ``site``'s deferred work first when ``run_site`` (the first runtime of
    an interpreter the plugin started), then the venv's packages."""
    if run_site:
        _run_site(venv)
    if venv is not None and site_packages is not None:
        activate(venv, site_packages)
