"""Case 3, SFTP and SMB large file: `orbit cp` vs OpenSSH `sftp -f -b` and Samba `smbclient`.

The same file up and down against the private sshd and smbd of the run,
alternating runs; MiB/s, client CPU seconds, peak RSS. Targets: SFTP >= 1.0x
OpenSSH's sftp, SMB >= 0.8x smbclient, both ways. Over SFTP both sides flush the
file to disk before they are done (see :func:`remotes`).

    python -m bench.sftp_smb [--quick] [--large 1GiB] [--rounds 3]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._harness import Contender, Measurement, alternate, format_size
from bench._report import TRANSFER_HEADERS, CaseResult, Options, Target, case_main, compare
from bench._servers import Session

__all__ = ["Argv", "Client", "Remote", "contenders", "place_seed", "remotes", "run"]


Argv = Callable[[str, Path, str], list[str]]
"""(put|get, local file, remote name) -> a client's command line."""


@dataclass(frozen=True)
class Client:
    """One client of a comparison: its name, command lines and environment."""

    name: str
    argv: Argv
    env: dict[str, str]


class Remote:
    """One file protocol of the run: where orbit and the peer put and get files."""

    def __init__(self, protocol: str, folder: Path, orbit_path: Callable[[str], str],
                 peer: str, peer_argv: Argv,
                 peer_env: dict[str, str], goal: float) -> None:
        self.protocol = protocol
        self.folder = folder
        """The local folder behind the remote root the benchmark uses."""
        self.orbit_path = orbit_path
        """name in that folder -> orbit target."""
        self.peer = peer
        self.peer_argv = peer_argv
        self.peer_env = peer_env
        self.goal = goal


def _sftp(session: Session, durable: bool) -> Remote:
    info = session.sftp()
    batch = session.work / "sftp-batch"
    profile = "sftp" if durable else "sftp-nofsync"

    def argv(verb: str, local: Path, name: str) -> list[str]:
        remote = f"{info.root}/{name}"
        batch.write_text(f'put "{local}" "{remote}"\n' if verb == "put" else
                         f'get "{remote}" "{local}"\n')
        return ["sftp", *(["-f"] if durable else []), "-q", "-b", str(batch), "-P",
                str(info.port), "-i", str(info.client_key), "-o",
                f"UserKnownHostsFile={info.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", f"{info.user}@{info.host}"]

    return Remote("SFTP", info.root, lambda name: f"{profile}:{info.root}/{name}",
                  "openssh-sftp -f" if durable else "openssh-sftp", argv, dict(os.environ), 1.0)


def _smb(session: Session) -> Remote:
    info = session.smb()
    auth = session.work / "smb-auth"
    auth.write_text(f"username = {info.user}\npassword = {info.password}\n")
    auth.chmod(0o600)

    def argv(verb: str, local: Path, name: str) -> list[str]:
        command = f'put "{local}" "{name}"' if verb == "put" else f'get "{name}" "{local}"'
        return ["smbclient", f"//{info.host}/{info.share}", "-p", str(info.port), "-A",
                str(auth), "-m", "SMB3", "-c", command]

    return Remote("SMB", info.root, lambda name: f"smb:/{info.share}/{name}", "smbclient",
                  argv, dict(os.environ), 0.8)


def remotes(session: Session, *, durable: bool = True) -> list[Remote]:
    """SFTP and SMB. ``durable``: over SFTP both sides flush the file to disk before
    they call it done, orbit by default, OpenSSH's sftp with ``-f`` (fsync@openssh.com
    up, fsync of the local file down); else neither does (orbit's ``fsync=false``)."""
    return [_sftp(session, durable), _smb(session)]


def contenders(session: Session, remote: Remote, source: Path, direction: str,
               seed: str, extra: Sequence[Client] = ()) -> list[Contender]:
    """orbit, the peer and the ``extra`` clients, putting ``source`` (then
    size-checked and removed) or getting ``seed`` (then size-checked and removed)."""
    size = source.stat().st_size
    local = session.work / "download.bin"

    def orbit_argv(verb: str, path: Path, name: str) -> list[str]:
        return (session.orbit_cp(str(path), remote.orbit_path(name)) if verb == "put" else
                session.orbit_cp(remote.orbit_path(name), str(path)))

    def one(name: str, argv_of: Argv, env: dict[str, str]) -> Contender:
        def argv(n: int) -> list[str]:
            return (argv_of("put", source, f"up-{name}-{n}.bin") if direction == "up" else
                    argv_of("get", local, seed))

        def after(n: int) -> None:
            done = remote.folder / f"up-{name}-{n}.bin" if direction == "up" else local
            got = done.stat().st_size
            done.unlink()
            if got != size:
                raise RuntimeError(f"{name} {remote.protocol} {direction}: {got} bytes")

        return Contender(name, argv, env, after=after)

    clients = [Client("orbit", orbit_argv, session.env),
               Client(remote.peer, remote.peer_argv, remote.peer_env), *extra]
    return [one(client.name, client.argv, client.env) for client in clients]


def place_seed(remote: Remote, source: Path, name: str) -> Path:
    """A copy of ``source`` in the served folder (a hard link where possible)."""
    seed = remote.folder / name
    seed.unlink(missing_ok=True)
    try:
        os.link(source, seed)
    except OSError:
        import shutil

        shutil.copyfile(source, seed)
    seed.chmod(0o644)
    return seed


def run(session: Session, options: Options) -> CaseResult:
    size = options.large
    result = CaseResult("sftp_smb", f"3. SFTP and SMB large file ({format_size(size)}), "
                        "orbit cp vs OpenSSH sftp and smbclient", TRANSFER_HEADERS)
    with session.test_file("large.bin", size) as source:
        for remote in remotes(session):
            seed = place_seed(remote, source, "large-seed.bin")
            for direction in ("up", "down"):
                runs: dict[str, list[Measurement]] = alternate(
                    contenders(session, remote, source, direction, seed.name), options.rounds,
                    label=f"{remote.protocol} {direction}", amount=size / 2**20)
                rows, summaries, ref = compare(f"{remote.protocol} {direction}", runs, size)
                result.rows += rows
                ours, peer = summaries["orbit"], summaries[ref]
                result.targets.append(Target(
                    f"{remote.protocol} {direction} vs {ref}",
                    f"{ours.mib_s / peer.mib_s:.2f}x ({ours.mib_s:.0f} vs {peer.mib_s:.0f} "
                    "MiB/s)", f">= {remote.goal:.1f}x", ours.mib_s >= remote.goal * peer.mib_s))
                result.data[f"{remote.protocol}/{direction}"] = {"runs": runs,
                                                                 "summaries": summaries}
                session.orbit_runs[(remote.protocol, direction, size)] = runs["orbit"]
            seed.unlink()
    result.notes.append("Both sides with their defaults on loopback: OpenSSH sftp (its "
                        "default cipher, 32 requests of 32 KiB) and smbclient -m SMB3.")
    result.notes.append("SFTP: the same work on both sides: orbit flushes a finished file "
                        "to disk before it publishes it (the server's fsync up, its own "
                        "down), so OpenSSH's sftp runs with -f, which does the same. Case 3c "
                        "has both without the flush.")
    return result


if __name__ == "__main__":
    sys.exit(case_main("sftp_smb", run, __doc__))
