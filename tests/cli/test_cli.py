"""The ``orbit`` command in real child processes: profiles and their secrets, ls, cp
with JSON progress, rm, mkdir, host keys, one-line errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import keyring

from tests.cli.conftest import Orbit, json_lines
from tests.profile_support import real_keyring
from tests.servers.info import SshServer
from tests.transfer_support import make_tree, sha256_file, tree_digest, write_pattern

__all__ = ["real_keyring"]  # a fixture, used here and by test_cli_s3

SECRET = "cli-s3cr3t-\u00fcnicode-value"
MiB = 1024 * 1024


def all_text_below(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*")
                     if p.is_file() and not p.name.endswith(("-wal", "-shm")))


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "orbit"
    assert script.exists(), "pip install -e . puts the orbit command in the venv"


def test_profiles_keep_secrets_in_the_keyring_only(orbit: Orbit, real_keyring: None) -> None:
    name = f"cli-{os.urandom(3).hex()}"
    added = orbit.run("profile", "add", name, "--kind", "sftp", "--host", "files.example.com",
                      "--port", "2222", "--user", "alice", "--secret-stdin",
                      input=SECRET + "\n", check=True)
    assert added.stderr == ""
    try:
        listing = orbit.run("profile", "list", "--json", check=True)
        [profile] = json_lines(listing.stdout)
        assert profile["name"] == name and profile["host"] == "files.example.com"
        shown = orbit.run("profile", "show", name, check=True)
        assert "secret: stored" in shown.stdout
        assert keyring.get_password("orbit-gui", name) == SECRET
        # the secret is nowhere in the config folder: profiles, logs, journal
        everything = all_text_below(orbit.config)
        assert "files.example.com" in everything
        assert SECRET not in everything and "s3cr3t" not in everything
        assert SECRET not in added.stdout + shown.stdout + listing.stdout
    finally:
        orbit.run("profile", "rm", name, check=True)
    assert json_lines(orbit.run("profile", "list", "--json", check=True).stdout) == []
    assert keyring.get_password("orbit-gui", name) is None


def test_a_secret_is_never_taken_on_the_command_line(orbit: Orbit) -> None:
    done = orbit.run("profile", "add", "x", "--kind", "sftp", "--host", "h",
                     "--secret", "hunter2")
    assert done.returncode == 2
    assert "hunter2" not in all_text_below(orbit.config)


def test_a_secret_is_not_stored_for_a_profile_that_never_uses_one(orbit: Orbit) -> None:
    done = orbit.run("profile", "add", "x", "--kind", "sftp", "--host", "h", "--secret-stdin",
                     "--option", "remember_credentials=false", input=SECRET + "\n")
    assert done.returncode == 2
    assert "remember_credentials=false" in done.stderr and SECRET not in done.stderr
    assert json_lines(orbit.run("profile", "list", "--json", check=True).stdout) == []


def test_cp_a_tree_with_json_progress(orbit: Orbit, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, small=60, large=(3 * MiB + 7,))
    done = orbit.run("cp", "-R", str(src), str(tmp_path / "copy"), "--progress", "json",
                     "--part-size", "1M", "--concurrency", "4", "--window", "3", check=True)
    lines = json_lines(done.stdout)
    assert lines, done.stderr
    for line in lines:
        assert {"transfer", "state", "bytes_done", "total", "parts"} <= set(line)
        assert all({"index", "state", "bytes_done", "length"} <= set(p) for p in line["parts"])
    assert lines[-1]["state"] == "done"
    assert lines[-1]["bytes_done"] == lines[-1]["total"]
    assert len({line["transfer"] for line in lines}) == 1
    assert any(p["state"] in ("in-flight", "done") and p.get("file") == "large/big0.bin"
               for line in lines for p in line["parts"]) or lines[-1]["files_done"] == 61
    assert tree_digest(tmp_path / "copy") == tree_digest(src)
    # into an existing folder, as cp does
    orbit.run("cp", str(src / "large" / "big0.bin"), str(tmp_path / "copy"), check=True)
    assert sha256_file(tmp_path / "copy" / "big0.bin") == sha256_file(
        src / "large" / "big0.bin")
    history = json_lines(orbit.run("transfers", "--json", check=True).stdout)
    assert [h["state"] for h in history] == ["done", "done"]


def test_conflict_policies_from_the_command_line(orbit: Orbit, tmp_path: Path) -> None:
    src, dst = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("new")
    dst.write_text("old")
    failed = orbit.run("cp", str(src), str(dst))  # ask, with nobody at a terminal
    assert failed.returncode == 1
    assert "already exists" in failed.stderr and "Traceback" not in failed.stderr
    assert dst.read_text() == "old"
    orbit.run("cp", str(src), str(dst), "--on-conflict", "skip", check=True)
    assert dst.read_text() == "old"
    orbit.run("cp", str(src), str(dst), "--on-conflict", "rename", check=True)
    assert (tmp_path / "b (1).txt").read_text() == "new"
    orbit.run("cp", str(src), str(dst), "--on-conflict", "overwrite", check=True)
    assert dst.read_text() == "new"
    bad = orbit.run("cp", str(src), str(dst), "--on-conflict", "sometimes")
    assert bad.returncode == 2


def test_errors_are_one_line_and_nonzero(orbit: Orbit, tmp_path: Path) -> None:
    missing = orbit.run("cp", str(tmp_path / "missing"), str(tmp_path / "x"))
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("orbit: error: ")
    assert "missing" in missing.stderr and "Traceback" not in missing.stderr
    unknown = orbit.run("ls", "noprofile:/x")
    assert unknown.returncode == 2 and "no saved connection named 'noprofile'" in unknown.stderr
    folder = orbit.run("cp", str(tmp_path), str(tmp_path / "y"))
    assert folder.returncode == 2 and "-R" in folder.stderr


def test_ls_mkdir_rm_locally(orbit: Orbit, tmp_path: Path) -> None:
    target = tmp_path / "made" / "deep"
    orbit.run("mkdir", str(target), check=True)
    assert target.is_dir()
    write_pattern(target / "file.bin", 1234)
    listing = orbit.run("ls", "-R", "--json", str(tmp_path / "made"), check=True)
    [entry] = json_lines(listing.stdout)
    assert entry["path"] == str(target / "file.bin") and entry["size"] == 1234
    plain = orbit.run("ls", str(tmp_path / "made"), check=True)
    assert plain.stdout.split()[-1] == "deep/"
    removed = orbit.run("rm", str(tmp_path / "made"))
    assert removed.returncode == 1  # a folder needs -R
    orbit.run("rm", "-R", str(tmp_path / "made"), check=True)
    assert not (tmp_path / "made").exists()


def sftp_profile(orbit: Orbit, server: SshServer, name: str, known_hosts: Path) -> None:
    orbit.run("profile", "add", name, "--kind", "sftp", "--host", server.host, "--port",
              str(server.port), "--user", server.user, "--key-file", str(server.client_key),
              "--root", str(server.root), "--option", "system_known_hosts=false",
              "--option", f"known_hosts={known_hosts}", "--option", "ssh_config=[]",
              check=True)


def test_sftp_host_key_refused_until_accepted(orbit: Orbit, sshd_server: SshServer,
                                              tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    sftp_profile(orbit, sshd_server, "box", known)
    refused = orbit.run("ls", "box:/")
    assert refused.returncode == 1
    assert sshd_server.host_key_fingerprint in refused.stderr
    assert "--accept-new-host-key" in refused.stderr and "Traceback" not in refused.stderr
    accepted = orbit.run("ls", "--accept-new-host-key", "box:/")
    assert accepted.returncode == 0, accepted.stderr
    assert known.exists() and str(sshd_server.port) in known.read_text()
    assert orbit.run("ls", "box:/").returncode == 0


def test_cp_ls_rm_against_sftp(orbit: Orbit, sshd_server: SshServer, tmp_path: Path) -> None:
    sftp_profile(orbit, sshd_server, "box", sshd_server.known_hosts)
    folder = f"cli-{os.urandom(4).hex()}"
    src = tmp_path / "src"
    make_tree(src, small=20, large=(2 * MiB + 1,))
    orbit.run("mkdir", f"box:{folder}", check=True)
    orbit.run("cp", "-R", str(src), f"box:{folder}/tree", "--part-size", "1M", check=True)
    assert tree_digest(sshd_server.root / folder / "tree") == tree_digest(src)
    listing = json_lines(orbit.run("ls", "-R", "--json", f"box:{folder}", check=True).stdout)
    assert len(listing) == 21
    orbit.run("cp", "-R", f"box:/{sshd_server.root.relative_to('/')}/{folder}/tree",
              str(tmp_path / "back"), check=True)
    assert tree_digest(tmp_path / "back") == tree_digest(src)
    orbit.run("rm", "-R", f"box:{folder}", check=True)
    assert not (sshd_server.root / folder).exists()
    assert json.loads(orbit.run("transfers", "--json", check=True).stdout.splitlines()[0])[
        "state"] == "done"


def test_progress_bar_on_a_terminal(orbit: Orbit, tmp_path: Path) -> None:
    import pty
    import subprocess

    from tests.cli.conftest import ORBIT, ROOT

    src = tmp_path / "file.bin"
    write_pattern(src, 3 * MiB)
    master, slave = pty.openpty()
    try:
        done = subprocess.run([*ORBIT, "cp", str(src), str(tmp_path / "copy.bin")],
                              stderr=slave, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              env=orbit.env, cwd=ROOT, timeout=120)
        os.close(slave)
        slave = -1
        output = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert done.returncode == 0
    text = output.decode()
    assert "\r[" in text and "100%" in text and "done" in text
    assert done.stdout == b""


def test_ls_into_a_reader_that_stops_early_ends_quietly(orbit: Orbit, tmp_path: Path) -> None:
    """`orbit ls | head -1`: the closed pipe ends the listing, not with an error."""
    for index in range(20_000):
        (tmp_path / f"f{index:05}").touch()
    process = orbit.start("ls", str(tmp_path))
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # like `head -1` once it has its line
    status = process.wait(timeout=120)
    errors = process.stderr.read()
    assert first.split()[-1].startswith("f")
    assert status == 141, errors
    assert "error" not in errors.lower()
    log_file = orbit.config / "logs" / "orbit-gui.log"
    assert not log_file.exists() or "BrokenPipeError" not in log_file.read_text()
