"""One file put or got with a protocol library alone, no Orbit code: what the
library itself can do, the ceiling of an `orbit cp` built on it.

Run by path (``python bench/_library_client.py ...``), so nothing of the project
is imported; bench/library_ceiling.py passes the settings orbit uses.

    _library_client.py smb put|get LOCAL REMOTE --host H --port P --user U --share S
                       [--chunk N] [--depth N]        (password in ORBIT_BENCH_SMB_PASSWORD)
    _library_client.py sftp put|get LOCAL REMOTE --host H --port P --user U --key K
                       --known-hosts F --block N --requests N --cipher C --window N
                       --packet N

SMB: smbprotocol's Open.read/write built with ``send=False`` and sent out of band,
``--depth`` requests of ``--chunk`` bytes (0: the negotiated maximum) in flight.
SFTP: asyncssh's SFTPClient.put/get with orbit's block size (``--block`` capped by
the server's limits) and request count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

PASSWORD_ENV = "ORBIT_BENCH_SMB_PASSWORD"


def _smb(args: argparse.Namespace) -> None:
    from smbprotocol.connection import Connection
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        ShareAccess,
    )
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect

    conn = Connection(uuid.uuid4(), args.host, args.port, require_signing=False)
    conn.connect()
    try:
        session = Session(conn, args.user, os.environ[PASSWORD_ENV])
        session.connect()
        tree = TreeConnect(session, rf"\\{args.host}\{args.share}")
        tree.connect()
        put = args.verb == "put"
        limit = conn.max_write_size if put else conn.max_read_size
        chunk = min(args.chunk or limit, limit)
        # Credits for every request in flight (one per 64 KiB), asked for once.
        conn.echo(sid=session.session_id, credit_request=args.depth * (chunk // 65536 + 1))
        handle = Open(tree, args.remote)
        access = (FilePipePrinterAccessMask.GENERIC_WRITE if put
                  else FilePipePrinterAccessMask.GENERIC_READ)
        handle.create(ImpersonationLevel.Impersonation, access, 0, ShareAccess.FILE_SHARE_READ,
                      CreateDisposition.FILE_OVERWRITE_IF if put else CreateDisposition.FILE_OPEN,
                      CreateOptions.FILE_NON_DIRECTORY_FILE)
        flight: deque[tuple[Any, Any]] = deque()

        def send(message_and_receive: tuple[Any, Any]) -> None:
            message, receive = message_and_receive
            charge = message["length"].get_value() // 65536 + 1
            request = conn.send(message, session.session_id, tree.tree_connect_id,
                                credit_request=charge)
            flight.append((request, receive))

        with open(args.local, "rb" if put else "wb") as local:
            if put:
                size = os.fstat(local.fileno()).st_size
                for offset in range(0, size, chunk):
                    if len(flight) >= args.depth:
                        request, receive = flight.popleft()
                        receive(request)
                    send(handle.write(local.read(chunk), offset, send=False))
                while flight:
                    request, receive = flight.popleft()
                    receive(request)
            else:
                size = handle.end_of_file
                offset = 0
                while offset < size or flight:
                    while offset < size and len(flight) < args.depth:
                        send(handle.read(offset, min(chunk, size - offset), send=False))
                        offset += chunk
                    request, receive = flight.popleft()
                    local.write(receive(request))
        handle.close()
        tree.disconnect()
        session.disconnect()
    finally:
        conn.disconnect(True)


async def _sftp(args: argparse.Namespace) -> None:
    import asyncssh

    async with asyncssh.connect(
        args.host, port=args.port, username=args.user, client_keys=[args.key],
        known_hosts=args.known_hosts, agent_path=None, encryption_algs=[args.cipher],
        compression_algs=None, window=args.window, max_pktsize=args.packet,
    ) as conn, conn.start_sftp_client() as sftp:
        put = args.verb == "put"
        limit = sftp.limits.max_write_len if put else sftp.limits.max_read_len
        move, paths = ((sftp.put, (args.local, args.remote)) if put else
                       (sftp.get, (args.remote, args.local)))
        await move(*paths, block_size=min(args.block, limit or args.block),
                   max_requests=args.requests)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("protocol", choices=["smb", "sftp"])
    parser.add_argument("verb", choices=["put", "get"])
    parser.add_argument("local")
    parser.add_argument("remote")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--share")
    parser.add_argument("--chunk", type=int, default=0)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--key")
    parser.add_argument("--known-hosts")
    parser.add_argument("--block", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--cipher")
    parser.add_argument("--window", type=int)
    parser.add_argument("--packet", type=int)
    args = parser.parse_args(argv)
    if args.protocol == "smb":
        _smb(args)
    else:
        asyncio.run(_sftp(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
