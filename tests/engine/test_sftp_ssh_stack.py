"""asyncssh imported by the SFTP package: liboqs looked up in the linker's cache,
without compiling and linking test programs."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

_IMPORT = """
import ctypes.util, subprocess
started = []
spawn = subprocess.Popen.__init__
def recorded(self, args, *rest, **options):
    started.append(args[0] if isinstance(args, (list, tuple)) else args)
    spawn(self, args, *rest, **options)
subprocess.Popen.__init__ = recorded
find_library = ctypes.util.find_library
import orbit_gui.engine.backends.sftp
import asyncssh.crypto.pq as pq
print(sorted({str(p).rsplit("/", 1)[-1] for p in started}))
print(pq._oqs_lib)
print(ctypes.util.find_library is find_library)
"""


def test_liboqs_is_looked_up_in_the_linker_cache_only() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    done = subprocess.run([sys.executable, "-c", _IMPORT], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    programs, found, restored = done.stdout.splitlines()
    assert programs in ("[]", "['ldconfig']"), programs  # not gcc, collect2, ld
    in_cache = ctypes.util._findSoname_ldconfig  # type: ignore[attr-defined]
    assert found == str(in_cache("oqs") or in_cache("liboqs"))
    assert restored == "True"
