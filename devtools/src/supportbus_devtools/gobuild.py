"""Building a development server from Go source once into the cache (Weaviate, Toxiproxy).

This machine class has no Docker, so servers without a usable release artifact are built with
``go install`` from the Go module proxy. Both builds share one policy: modules from a proxy,
never VCS; the local toolchain, never a downloaded one; static binaries (CGO off), no C compiler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from supportbus_devtools.errors import DevtoolsError
from supportbus_devtools.processes import exclusive_lock

__all__ = ["DEFAULT_GOPROXY", "ensure_go_binary", "go_build_env"]

DEFAULT_GOPROXY = "https://proxy.golang.org"


def _module_proxy() -> str:
    """GOPROXY without ``direct``/``off``: modules come from a module proxy, never from VCS."""
    configured = os.environ.get("GOPROXY", "")
    proxies = [
        p for p in configured.replace("|", ",").split(",") if p.strip() not in ("", "direct", "off")
    ]
    return ",".join(proxies) or DEFAULT_GOPROXY


def go_build_env(gobin: Path) -> dict[str, str]:
    """Our environment with the build policy applied and ``go install`` writing into ``gobin``."""
    env = dict(os.environ)
    env.update(
        GOBIN=str(gobin),
        GOPROXY=_module_proxy(),
        GOTOOLCHAIN="local",  # use the Go we have; never download a toolchain
        CGO_ENABLED="0",  # a static binary; no C compiler needed
        GOFLAGS=" ".join([*env.get("GOFLAGS", "").split(), "-trimpath"]).strip(),
    )
    env.pop("GONOPROXY", None)  # they would send matching modules around the proxy, to VCS
    env.pop("GOPRIVATE", None)
    return env


def ensure_go_binary(
    home: Path,
    package: str,
    *,
    what: str,
    name: str,
    built_as: str,
    error: type[DevtoolsError],
    needs_go: str,
    say: Callable[[str], object],
    flags: Sequence[str] = (),
) -> Path:
    """Return ``<home>/bin/<name>``, building ``package`` (``module/cmd/x@vX``) on first use;
    ``what`` (``"Weaviate v1.35.2"``) names it in messages.

    ``go install`` writes into a scratch GOBIN and the binary (``built_as`` there) is renamed
    into place only once complete, so its presence means a finished build; a file lock keeps
    two processes from building into the same cache at once. ``needs_go`` is the message when
    no ``go`` is on PATH, and failures raise ``error``.
    """
    binary = home / "bin" / name
    if binary.is_file():
        return binary
    home.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(home / ".lock"):
        if binary.is_file():
            return binary
        go = shutil.which("go")
        if go is None:
            raise error(needs_go)
        say(f"building {what} ({name}) with go install (first run only)...")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=home) as scratch:
            gobin = Path(scratch) / "bin"
            result = subprocess.run(
                [go, "install", *flags, package],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                cwd=scratch,  # outside any module, so go.work/go.mod around us cannot interfere
                env=go_build_env(gobin),
            )
            built = gobin / built_as
            if result.returncode != 0 or not built.is_file():
                output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
                raise error(
                    f"go install could not build {what} (exit {result.returncode}):\n{output}"
                )
            binary.parent.mkdir(parents=True, exist_ok=True)
            built.rename(binary)
        say(f"built {what} ({name}) in {time.monotonic() - started:.1f}s ({binary})")
        return binary
