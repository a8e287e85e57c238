"""Profiles on disk, secrets in the real Secret Service keyring (make test runs a
private gnome-keyring), and the in-memory fallback when no keyring works."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from orbit_gui.engine import InvalidPath, NotFound, Profile, Unsupported, open_backend
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.profiles import ProfileStore, SecretStore
from tests.profile_support import real_keyring

__all__ = ["real_keyring"]  # a fixture the tests here (and the CLI's) use

SECRET = "s3cr3t-Ünïcode-🔑-value"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProfileStore]:
    store = ProfileStore(tmp_path / "config" / "profiles.json",
                         SecretStore(service=f"orbit-gui-test-{tmp_path.name}"))
    yield store
    with suppress(InvalidPath):
        for profile in store.load():
            store.secrets.delete(profile.name)


def test_profiles_round_trip_and_secrets_stay_out_of_the_file(
    store: ProfileStore, real_keyring: None
) -> None:
    profile = Profile("prod s3", "local", host="s3.example.com", user="AKIAEXAMPLE",
                      options={"region": "eu-west-1", "path_style": True})
    assert store.save(profile, SECRET) is True
    assert store.load() == [profile]
    assert store.get("prod s3") == profile
    assert store.secrets.get("prod s3") == SECRET
    text = store.path.read_text(encoding="utf-8")
    assert SECRET not in text and "s3cr3t" not in text
    assert json.loads(text)["profiles"][0]["host"] == "s3.example.com"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    # A new store (a new app start) finds the secret in the keyring, not in memory.
    assert SecretStore(store.secrets.service).get("prod s3") == SECRET


def test_replacing_and_removing(store: ProfileStore, real_keyring: None) -> None:
    store.save(Profile("a", "local", root="/tmp"), "one")
    store.save(Profile("b", "local"))
    store.save(Profile("a", "local", root="/srv"))
    assert [p.root for p in store.load()] == ["/srv", "/"]
    assert store.secrets.get("a") == "one"
    store.remove("a")
    assert [p.name for p in store.load()] == ["b"]
    assert store.secrets.get("a") is None
    with pytest.raises(NotFound):
        store.remove("a")
    with pytest.raises(NotFound, match="no saved connection named 'zzz'"):
        store.get("zzz")


@pytest.mark.parametrize("key", ["secret_key", "password", "Passphrase", "session_token"])
def test_secret_looking_options_are_refused(store: ProfileStore, key: str) -> None:
    with pytest.raises(InvalidPath, match="keyring"):
        store.save(Profile("p", "local", options={key: SECRET}))
    assert not store.path.exists()


@pytest.mark.parametrize("name", ["", " lead", "a/b", "x" * 65, "new\nline"])
def test_bad_profile_names_are_refused(store: ProfileStore, name: str) -> None:
    with pytest.raises(InvalidPath):
        store.save(Profile(name, "local"))


def test_unknown_kind_is_refused(store: ProfileStore) -> None:
    with pytest.raises(Unsupported, match="ftp"):
        store.save(Profile("p", "ftp"))


def test_without_a_keyring_secrets_live_in_memory_only(
    store: ProfileStore, expect_log: Callable[[str], None], tmp_path: Path
) -> None:
    expect_log("no usable keyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        assert store.save(Profile("p", "local"), SECRET) is False
        assert store.secrets.get("p") == SECRET
        assert not store.secrets.persistent
        on_disk = b"".join(f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
        assert SECRET.encode() not in on_disk
        assert SecretStore(store.secrets.service).get("p") is None  # gone with the session
    finally:
        keyring.set_keyring(previous)


def test_corrupt_profile_file_is_a_clear_error(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(InvalidPath, match="cannot read the profiles"):
        store.load()


async def test_open_backend_builds_the_profile_kind() -> None:
    backend = await open_backend(Profile("here", "local"))
    assert isinstance(backend, LocalBackend)
    with pytest.raises(Unsupported, match="known:"):
        await open_backend(Profile("x", "gopher"))


class _CountingSecrets(SecretStore):
    """Answers from memory and counts what would have asked the keyring."""

    def __init__(self) -> None:
        super().__init__("orbit-test-unused")
        self.lookups: list[str] = []

    def get(self, name: str) -> str | None:
        self.lookups.append(name)
        return self.kept(name)


@pytest.mark.parametrize(("options", "user", "looked_up"), [
    ({"endpoint_url": "http://127.0.0.1:9"}, "", False),  # the AWS credential chain
    ({"endpoint_url": "http://127.0.0.1:9", "access_key": "AK", "anonymous": True}, "", False),
    ({"endpoint_url": "http://127.0.0.1:9", "access_key": "AK"}, "", True),
    ({"endpoint_url": "http://127.0.0.1:9"}, "AK", True),  # the user is the access key
    ({"endpoint_url": "http://127.0.0.1:9", "access_key": "AK",
      "remember_credentials": False}, "", False),  # never stored
])
def test_the_keyring_is_asked_only_when_a_stored_secret_may_be_used(
        tmp_path: Path, options: dict[str, object], user: str, looked_up: bool) -> None:
    from orbit_gui.engine.connections import ConnectionPool

    secrets = _CountingSecrets()
    pool = ConnectionPool(ProfileStore(tmp_path / "p.json", secrets))
    profile = Profile(name="s3x", kind="s3", user=user, options=options)
    assert asyncio.run(pool._stored_secret(profile)) is None
    assert secrets.lookups == (["s3x"] if looked_up else [])
    secrets.keep_for_session("s3x", "typed")  # what this session was told comes first
    assert asyncio.run(pool._stored_secret(profile)) == "typed"


def test_an_sftp_key_file_needs_its_secret_only_when_encrypted(tmp_path: Path) -> None:
    import asyncssh

    from orbit_gui.engine.backends.sftp import SftpBackend

    key = asyncssh.generate_private_key("ssh-ed25519")
    plain, locked = tmp_path / "plain", tmp_path / "locked"
    key.write_private_key(plain)
    key.write_private_key(locked, passphrase="pass phrase")

    def profile(**options: object) -> Profile:
        return Profile(name="box", kind="sftp", host="127.0.0.1", options=options)

    assert not SftpBackend.uses_secret(profile(key_file=str(plain)))
    assert SftpBackend.uses_secret(profile(key_file=str(locked)))
    assert SftpBackend.uses_secret(profile(key_file=str(tmp_path / "missing")))
    assert SftpBackend.uses_secret(profile())  # a password (or the agent)
    assert not LocalBackend.uses_secret(Profile(name="here", kind="local"))
