"""Case 3c, what bounds the SFTP and SMB targets: the protocol library alone
(no Orbit code) vs the C client vs `orbit cp`, the same file up and down.

SMB: smbprotocol (Open.read/write sent out of band, the largest request the
server negotiated, several in flight) vs Samba's `smbclient` vs `orbit cp`.
SFTP: asyncssh's SFTPClient.put/get (orbit's block size, requests, cipher and
window) vs OpenSSH's `sftp` vs `orbit cp`, none of them flushing the file to disk
at the end (orbit's ``fsync=false``: the library has no such step). Alternating
runs; MiB/s, client CPU seconds, peak RSS; each rate also as a ratio to the
library alone.

    python -m bench.library_ceiling [--quick] [--large 1GiB] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench._harness import ROOT, Measurement, alternate, format_size
from bench._report import TRANSFER_HEADERS, CaseResult, Options, case_main, compare, ratio
from bench._servers import Session
from bench.sftp_smb import Client, Remote, contenders, place_seed, remotes
from orbit_gui.engine.backends.sftp import DEFAULT_REQUESTS, MAX_BLOCK, PREFERRED_CIPHER
from orbit_gui.engine.backends.sftp.connect import _MAX_PACKET, _WINDOW

__all__ = ["SMB_DEPTH", "library_client", "run"]

SCRIPT = ROOT / "bench" / "_library_client.py"
SMB_DEPTH = 4
"""READ/WRITE requests the smbprotocol client keeps in flight (of the largest size)."""


def library_client(session: Session, remote: Remote) -> Client:
    """The protocol library alone, as a client of ``remote``."""
    env = dict(session.env)
    if remote.protocol == "SMB":
        smb = session.smb()
        env["ORBIT_BENCH_SMB_PASSWORD"] = smb.password
        name = "smbprotocol"
        where = ["--host", smb.host, "--port", str(smb.port), "--user", smb.user,
                 "--share", smb.share, "--depth", str(SMB_DEPTH)]
    else:
        ssh = session.sftp()
        name = "asyncssh"
        where = ["--host", ssh.host, "--port", str(ssh.port), "--user", ssh.user,
                 "--key", str(ssh.client_key), "--known-hosts", str(ssh.known_hosts),
                 "--block", str(MAX_BLOCK), "--requests", str(DEFAULT_REQUESTS),
                 "--cipher", PREFERRED_CIPHER.decode(), "--window", str(_WINDOW),
                 "--packet", str(_MAX_PACKET)]

    def argv(verb: str, local: Path, remote_name: str) -> list[str]:
        target = remote_name if remote.protocol == "SMB" else str(remote.folder / remote_name)
        return [sys.executable, str(SCRIPT), remote.protocol.lower(), verb, str(local), target,
                *where]

    return Client(name, argv, env)


def run(session: Session, options: Options) -> CaseResult:
    size = options.large
    result = CaseResult("library_ceiling", f"3c. What bounds SFTP and SMB ({format_size(size)}): "
                        "the protocol library alone vs the C client vs orbit cp",
                        [*TRANSFER_HEADERS, "x library rate"])
    with session.test_file("ceiling.bin", size) as source:
        for remote in remotes(session, durable=False):
            library = library_client(session, remote)
            seed = place_seed(remote, source, "ceiling-seed.bin")
            for direction in ("up", "down"):
                label = f"{remote.protocol} {direction}"
                runs: dict[str, list[Measurement]] = alternate(
                    contenders(session, remote, source, direction, seed.name, [library]),
                    options.rounds, label=label, amount=size / 2**20)
                rows, summaries, _ = compare(label, runs, size, reference=remote.peer)
                base = summaries[library.name].mib_s
                result.rows += [[*row, f"{ratio(summaries[row[1]].mib_s, base):.2f}"]
                                for row in rows]
                peer, ours = summaries[remote.peer].mib_s, summaries["orbit"].mib_s
                result.notes.append(
                    f"{label}: {library.name} alone {ratio(base, peer):.2f}x {remote.peer}, "
                    f"orbit {ratio(ours, peer):.2f}x {remote.peer} = {ratio(ours, base):.2f}x "
                    f"{library.name} alone (goal {remote.goal:.1f}x {remote.peer}).")
                result.data[label] = {"runs": runs, "summaries": summaries}
            seed.unlink()
    result.notes.append(
        f"smbprotocol alone: {SMB_DEPTH} READ/WRITE requests of the negotiated maximum in "
        "flight, sent with Open.read/write(send=False); asyncssh alone: SFTPClient.put/get "
        f"with orbit's block size (at most {MAX_BLOCK // 1024} KiB, capped by the server's "
        f"limits), {DEFAULT_REQUESTS} requests, {PREFERRED_CIPHER.decode()} and orbit's "
        "window. Both run bench/_library_client.py, which imports nothing of Orbit.")
    return result


if __name__ == "__main__":
    sys.exit(case_main("library_ceiling", run, __doc__))
