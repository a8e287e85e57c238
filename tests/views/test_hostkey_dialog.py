"""The host-key prompt and refusal, and the secret prompt, on their own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from orbit_gui.engine import Profile
from orbit_gui.engine.backends.sftp import KnownHosts, SftpHostKeyChanged, SftpHostKeyUnknown
from orbit_gui.engine.profiles import ProfileStore
from orbit_gui.views.hostkey_dialog import (
    HostKeyChangedDialog,
    HostKeyChoice,
    HostKeyDialog,
    ask_host_key,
)
from orbit_gui.views.secret_prompt import SecretPrompt, ask_secret_async
from tests.profile_support import profile_store, real_keyring
from tests.views.dialog_waits import wait_for_child

__all__ = ["profile_store", "real_keyring"]


def unknown(host: str = "box.example", port: int = 2222) -> SftpHostKeyUnknown:
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().split()
    return SftpHostKeyUnknown("not known yet", host=host, port=port,
                              fingerprint=key.get_fingerprint("sha256"),
                              public_key=f"{public[0]} {public[1]}")


async def answer(qtbot: QtBot, profile: Profile, error: SftpHostKeyUnknown,
                 button: Callable[[HostKeyDialog], QPushButton]) -> HostKeyChoice:
    """Ask about ``error`` for ``profile`` from a window, and click the prompt's ``button``."""
    parent = QWidget()
    qtbot.addWidget(parent)
    task = asyncio.ensure_future(ask_host_key(parent, profile, error))
    button(await wait_for_child(parent, HostKeyDialog)).click()
    return await task


def test_the_prompt_shows_host_type_and_fingerprint(qtbot: QtBot) -> None:
    error = unknown()
    dialog = HostKeyDialog(error)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.host_label.text() == "box.example:2222"
    assert dialog.key_type_label.text() == "ssh-ed25519"
    assert dialog.fingerprint_label.text() == error.fingerprint
    assert error.fingerprint.startswith("SHA256:")
    assert dialog.cancel_button.isDefault()
    dialog.once_button.click()
    assert dialog.choice is HostKeyChoice.ONCE and dialog.result() == dialog.DialogCode.Accepted


def test_the_refusal_has_only_close(qtbot: QtBot) -> None:
    error = SftpHostKeyChanged("WARNING: the host key of box:22 has CHANGED", host="box",
                               port=22, fingerprint="SHA256:abc",
                               public_key="ssh-ed25519 AAAA", recorded_in=["/x:3"])
    dialog = HostKeyChangedDialog(error)
    qtbot.addWidget(dialog)
    assert "/x:3" in dialog.text_label.text()
    assert [b.text().replace("&", "") for b in dialog.buttons.buttons()] == ["Close"]


@pytest.mark.qt
async def test_accept_always_records_in_the_profiles_known_hosts(
        qtbot: QtBot, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    profile = Profile("box", "sftp", host="box.example", port=2222,
                      options={"known_hosts": str(known_hosts), "system_known_hosts": False})
    error = unknown()
    assert await answer(qtbot, profile, error, lambda d: d.always_button) is HostKeyChoice.ALWAYS
    assert known_hosts.read_text() == f"[box.example]:2222 {error.public_key}\n"


@pytest.mark.qt
async def test_accept_once_trusts_for_this_process_without_writing(
        qtbot: QtBot, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    host = f"once-{tmp_path.name}.example"  # session trust is process-wide: a host of our own
    profile = Profile("box", "sftp", host=host, port=2222,
                      options={"known_hosts": str(known_hosts)})
    error = unknown(host)
    assert await answer(qtbot, profile, error, lambda d: d.once_button) is HostKeyChoice.ONCE
    assert not known_hosts.exists()
    match = KnownHosts([known_hosts]).lookup(host, 2222)
    assert [key.export_public_key().decode().split()[1] for key, _ in match.trusted] == \
        [error.public_key.split()[1]]


@pytest.mark.qt
async def test_the_secret_prompt_stores_the_answer_as_chosen(
        qtbot: QtBot, profile_store: ProfileStore, real_keyring: None) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    profile = Profile("nas", "smb", host="nas.lan", user="ana", options={"share": "data"})
    profile_store.save(profile)
    task = asyncio.ensure_future(ask_secret_async(parent, profile, store=profile_store))
    prompt = await wait_for_child(parent, SecretPrompt)
    assert prompt.remember_box.isChecked() and not prompt.notice_label.isVisible()
    prompt.secret_edit.setText("pw-1")
    prompt.ok_button.click()
    assert await task == "pw-1"
    assert profile_store.secrets.get("nas") == "pw-1"

    task = asyncio.ensure_future(ask_secret_async(parent, profile, store=profile_store))
    prompt = await wait_for_child(parent, SecretPrompt)
    prompt.secret_edit.setText("pw-2")
    prompt.remember_box.setChecked(False)
    prompt.ok_button.click()
    assert await task == "pw-2"
    assert profile_store.secrets.get("nas") is None
    assert profile_store.get("nas").options["remember_credentials"] is False
    assert "pw-" not in profile_store.path.read_text()

    task = asyncio.ensure_future(ask_secret_async(parent, profile_store.get("nas"),
                                                  store=profile_store))
    prompt = await wait_for_child(parent, SecretPrompt)
    assert not prompt.remember_box.isChecked(), "the choice is remembered"
    prompt.reject()
    assert await task is None
