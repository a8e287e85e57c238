"""The connection manager against the real Secret Service keyring and real servers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncssh
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from orbit_gui.engine import Profile
from orbit_gui.engine.backends.sftp import accept_host_key, app_known_hosts_path
from orbit_gui.engine.profiles import ProfileStore, SecretStore
from orbit_gui.views.connection_dialog import ConnectionDialog
from orbit_gui.views.hostkey_dialog import HostKeyChangedDialog, HostKeyDialog
from orbit_gui.views.secret_prompt import SESSION_ONLY_NOTICE
from tests.profile_support import profile_store, real_keyring
from tests.servers.info import S3Server, SshServer
from tests.views.dialog_waits import wait_for_child

__all__ = ["profile_store", "real_keyring"]

SECRET = "Sëcret-🔑-do-not-leak-4711"


def open_dialog(qtbot: QtBot, store: ProfileStore) -> ConnectionDialog:
    dialog = ConnectionDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose_kind(dialog: ConnectionDialog, kind: str) -> None:
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData(kind))


def fill_s3(dialog: ConnectionDialog, name: str, server: S3Server, secret: str) -> None:
    dialog.new_profile()
    dialog.name_edit.setText(name)
    choose_kind(dialog, "s3")
    form = dialog.forms["s3"]
    form.provider_combo.setCurrentIndex(form.provider_combo.findData("minio"))
    form.endpoint_edit.setText(server.endpoint_url)
    form.region_edit.setText(server.region)
    form.access_key_edit.setText(server.access_key)
    dialog.secret_edit.setText(secret)


def fill_sftp(dialog: ConnectionDialog, name: str, server: SshServer, *,
              password: str | None = None) -> None:
    dialog.new_profile()
    dialog.name_edit.setText(name)
    choose_kind(dialog, "sftp")
    form = dialog.forms["sftp"]
    form.host_edit.setText(server.host)
    form.port_box.setValue(server.port)
    form.user_edit.setText(server.user)
    form.folder_edit.setText(str(server.root))
    if password is None:
        form.auth_combo.setCurrentIndex(form.auth_combo.findData("key"))
        form.key_file_edit.setText(str(server.client_key))
    else:
        form.auth_combo.setCurrentIndex(form.auth_combo.findData("password"))
        dialog.secret_edit.setText(password)


def file_text(store: ProfileStore) -> str:
    return store.path.read_text(encoding="utf-8")


@pytest.fixture
def fake_s3() -> S3Server:
    """Connection details for forms that are saved, never connected."""
    return S3Server("none", "http://127.0.0.1:9", "AKIDEXAMPLE", SECRET, "eu-west-1", None)


# -- create, edit, duplicate, delete: the real keyring ----------------------------------------


def test_create_edit_rename_delete_round_trip_through_the_keyring(
        qtbot: QtBot, profile_store: ProfileStore, real_keyring: None, fake_s3: S3Server
) -> None:
    dialog = open_dialog(qtbot, profile_store)
    fill_s3(dialog, "media", fake_s3, SECRET)
    with qtbot.waitSignal(dialog.profiles_changed):
        assert dialog.save()
    saved = profile_store.get("media")
    assert saved.kind == "s3"
    assert saved.options["endpoint_url"] == fake_s3.endpoint_url
    assert saved.options["access_key"] == fake_s3.access_key
    assert saved.options["region"] == "eu-west-1" and saved.options["path_style"] is True
    assert saved.options["remember_credentials"] is True
    # The secret is in the keyring (a fresh client finds it), never in the file.
    assert SecretStore(profile_store.secrets.service).get("media") == SECRET
    assert SECRET not in file_text(profile_store) and "do-not-leak" not in file_text(profile_store)
    assert dialog.model.row_of("media") == 0 and dialog.list_view.currentIndex().row() == 0
    assert dialog.status_label.text() == "Saved."

    # Edit and rename, leaving the secret field empty: the secret moves with the profile.
    assert dialog.secret_edit.text() == ""
    assert "keyring" in dialog.secret_edit.placeholderText()
    dialog.name_edit.setText("media archive")
    dialog.forms["s3"].region_edit.setText("us-west-2")
    with qtbot.waitSignal(dialog.profiles_changed):
        assert dialog.save()
    assert [p.name for p in profile_store.load()] == ["media archive"]
    assert profile_store.get("media archive").options["region"] == "us-west-2"
    fresh = SecretStore(profile_store.secrets.service)
    assert fresh.get("media archive") == SECRET
    assert fresh.get("media") is None

    # Delete asks first; Cancel keeps it, Delete removes profile and secret.
    dialog.confirm_delete()
    assert dialog.confirm_box is not None and "media archive" in dialog.confirm_box.text()
    dialog.confirm_box.button(QMessageBox.StandardButton.Cancel).click()
    assert [p.name for p in profile_store.load()] == ["media archive"]
    dialog.confirm_delete()
    with qtbot.waitSignal(dialog.profiles_changed):
        dialog.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    assert profile_store.load() == []
    assert SecretStore(profile_store.secrets.service).get("media archive") is None
    assert dialog.model.rowCount() == 0
    assert dialog.name_edit.text() == "" and not dialog.delete_button.isEnabled()


def test_duplicate_copies_the_profile_and_its_secret(
        qtbot: QtBot, profile_store: ProfileStore, real_keyring: None, fake_s3: S3Server
) -> None:
    dialog = open_dialog(qtbot, profile_store)
    fill_s3(dialog, "prod", fake_s3, SECRET)
    assert dialog.save()
    dialog.duplicate_profile()
    assert dialog.name_edit.text() == "prod copy"
    assert dialog.forms["s3"].endpoint_edit.text() == fake_s3.endpoint_url
    assert dialog.save()
    assert [p.name for p in profile_store.load()] == ["prod", "prod copy"]
    fresh = SecretStore(profile_store.secrets.service)
    assert fresh.get("prod copy") == SECRET and fresh.get("prod") == SECRET


def test_not_remembering_keeps_the_secret_out_of_the_keyring_and_the_choice_sticks(
        qtbot: QtBot, profile_store: ProfileStore, real_keyring: None, fake_s3: S3Server
) -> None:
    dialog = open_dialog(qtbot, profile_store)
    fill_s3(dialog, "once", fake_s3, SECRET)
    dialog.remember_box.setChecked(False)
    assert dialog.save()
    assert SecretStore(profile_store.secrets.service).get("once") is None
    assert profile_store.get("once").options["remember_credentials"] is False
    assert SECRET not in file_text(profile_store)
    again = open_dialog(qtbot, profile_store)
    assert again.name_edit.text() == "once"
    assert not again.remember_box.isChecked()


def test_without_a_keyring_the_secret_is_kept_for_the_session_and_the_dialog_says_so(
        qtbot: QtBot, profile_store: ProfileStore, fake_s3: S3Server) -> None:
    profile_store.secrets.persistent = False  # what SecretStore does once the keyring failed
    dialog = open_dialog(qtbot, profile_store)
    assert dialog.keyring_notice.isVisible()
    assert dialog.keyring_notice.text() == SESSION_ONLY_NOTICE
    assert not dialog.remember_box.isEnabled()
    fill_s3(dialog, "no keyring", fake_s3, SECRET)
    assert dialog.save()
    assert "this session only" in dialog.status_label.text()
    assert profile_store.secrets.get("no keyring") == SECRET
    assert SECRET not in file_text(profile_store)


def test_validation_shows_each_problem_next_to_its_field_and_saves_nothing(
        qtbot: QtBot, profile_store: ProfileStore, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, profile_store)
    dialog.new_profile()
    choose_kind(dialog, "s3")
    s3 = dialog.forms["s3"]
    s3.provider_combo.setCurrentIndex(s3.provider_combo.findData("r2"))
    s3.bucket_edit.setText("Bad_Bucket")
    assert not dialog.save()
    assert dialog.header_form.error_text(dialog.name_edit) == "Enter a name for this connection."
    assert "ACCOUNT_ID" in s3.error_text(s3.endpoint_edit)
    assert "3 to 63 lowercase" in s3.error_text(s3.bucket_edit)
    s3.endpoint_edit.setText("ftp://example.com")
    assert not dialog.save()
    assert "http:// or https://" in s3.error_text(s3.endpoint_edit)

    dialog.name_edit.setText("box")
    choose_kind(dialog, "sftp")
    sftp = dialog.forms["sftp"]
    sftp.host_edit.setText("sftp://box.example")
    sftp.auth_combo.setCurrentIndex(sftp.auth_combo.findData("key"))
    sftp.key_file_edit.setText(str(tmp_path / "missing_key"))
    sftp.folder_edit.setText("relative/path")
    assert not dialog.save()
    assert dialog.header_form.error_text(dialog.name_edit) == ""
    assert "without a scheme" in sftp.error_text(sftp.host_edit)
    assert "There is no file" in sftp.error_text(sftp.key_file_edit)
    assert "absolute path" in sftp.error_text(sftp.folder_edit)

    choose_kind(dialog, "smb")
    smb = dialog.forms["smb"]
    smb.host_edit.setText("nas.lan")
    assert not dialog.save()
    assert smb.error_text(smb.share_edit) == "Enter the name of the share to open."
    assert smb.error_text(smb.host_edit) == ""

    choose_kind(dialog, "local")
    local = dialog.forms["local"]
    local.folder_edit.setText(str(tmp_path / "nowhere"))
    assert not dialog.save()
    assert "There is no folder" in local.error_text(local.folder_edit)
    dialog.name_edit.setText("bad/name")
    local.folder_edit.setText(str(tmp_path))
    assert not dialog.save()  # the store's own rule for names, shown at the name
    assert "not a usable profile name" in dialog.header_form.error_text(dialog.name_edit)
    assert not profile_store.path.exists()

    dialog.name_edit.setText("here")
    assert dialog.save()
    dialog.new_profile()
    dialog.name_edit.setText("here")
    choose_kind(dialog, "local")
    dialog.forms["local"].folder_edit.setText(str(tmp_path))
    assert not dialog.save()
    assert "already exists" in dialog.header_form.error_text(dialog.name_edit)


def test_each_kind_saves_the_option_names_its_backend_reads(
        qtbot: QtBot, profile_store: ProfileStore, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not checked here")
    dialog = open_dialog(qtbot, profile_store)
    dialog.new_profile()
    dialog.name_edit.setText("web")
    choose_kind(dialog, "sftp")
    sftp = dialog.forms["sftp"]
    sftp.host_edit.setText("web.example")
    sftp.port_box.setValue(2222)
    sftp.user_edit.setText("deploy")
    sftp.auth_combo.setCurrentIndex(sftp.auth_combo.findData("key"))
    sftp.key_file_edit.setText(str(key))
    assert dialog.save()
    dialog.new_profile()
    dialog.name_edit.setText("nas")
    choose_kind(dialog, "smb")
    smb = dialog.forms["smb"]
    smb.host_edit.setText("nas.lan")
    smb.share_edit.setText("projects")
    smb.domain_edit.setText("ACME")
    smb.user_edit.setText("ana")
    smb.encrypt_combo.setCurrentIndex(smb.encrypt_combo.findData("required"))
    assert dialog.save()
    web, nas = profile_store.get("web"), profile_store.get("nas")
    assert (web.host, web.port, web.user, web.root) == ("web.example", 2222, "deploy", "/")
    assert web.options["key_file"] == str(key) and web.options["auth_method"] == "key"
    assert (nas.host, nas.port, nas.user, nas.root) == ("nas.lan", 445, "ana", "/projects")
    assert nas.options["share"] == "projects" and nas.options["domain"] == "ACME"
    assert nas.options["encrypt"] == "required"
    from orbit_gui.engine.backends.sftp import SftpSettings
    from orbit_gui.engine.backends.smb.settings import SmbSettings

    assert SftpSettings.from_profile(web).key_file == str(key)
    smb_settings = SmbSettings.from_profile(nas)
    assert (smb_settings.encrypt, smb_settings.shares, smb_settings.login) == \
        ("required", ("projects",), "ACME\\ana")
    stored = json.loads(file_text(profile_store))["profiles"]
    assert {p["name"] for p in stored} == {"nas", "web"}


# -- Test: real servers --------------------------------------------------------------------


@pytest.mark.qt
async def test_testing_an_s3_profile_lists_the_buckets(
        qtbot: QtBot, profile_store: ProfileStore, rclone_s3: S3Server) -> None:
    assert rclone_s3.data_dir is not None
    (rclone_s3.data_dir / "gui-test-bucket").mkdir(exist_ok=True)
    dialog = open_dialog(qtbot, profile_store)
    fill_s3(dialog, "rclone", rclone_s3, rclone_s3.secret_key)
    assert await dialog.test_connection()
    text = dialog.status_label.text()
    assert text.startswith(f"Connected to {rclone_s3.endpoint_url}")
    assert "entr" in text and text.endswith(".")
    assert not profile_store.path.exists(), "testing saves nothing"


@pytest.mark.qt
async def test_a_wrong_s3_secret_is_a_clear_sentence(
        qtbot: QtBot, profile_store: ProfileStore, rclone_s3: S3Server) -> None:
    dialog = open_dialog(qtbot, profile_store)
    wrong = "wrong-" + rclone_s3.secret_key
    fill_s3(dialog, "rclone", rclone_s3, wrong)
    with qtbot.waitSignal(dialog.test_finished) as finished:
        dialog.start_test()
        assert dialog._test_task is not None
        await dialog._test_task
    ok, text = finished.args
    assert not ok and text == dialog.status_label.text()
    assert text.endswith(".") and "127.0.0.1" in text
    assert wrong not in text and "Traceback" not in text
    assert dialog.test_button.isEnabled()


@pytest.mark.qt
async def test_a_wrong_ssh_password_is_a_clear_sentence(
        qtbot: QtBot, profile_store: ProfileStore, sshd_server: SshServer,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if sshd_server.password is None:
        pytest.skip("sshd allows password logins only when the tests run as root")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh of the user's
    accept_host_key(sshd_server.host, sshd_server.port, _server_key(sshd_server))
    dialog = open_dialog(qtbot, profile_store)
    fill_sftp(dialog, "box", sshd_server, password="not-" + sshd_server.password)
    assert not await dialog.test_connection()
    text = dialog.status_label.text()
    assert text == (f"{sshd_server.host}:{sshd_server.port} rejected the password for "
                    f"{sshd_server.user}@{sshd_server.host}.")
    dialog.secret_edit.setText(sshd_server.password)
    assert await dialog.test_connection()
    assert dialog.status_label.text().startswith("Connected to ")


def _server_key(server: SshServer) -> str:
    fields = server.known_hosts.read_text().split()
    return f"{fields[1]} {fields[2]}"


UnknownHost = tuple[ConnectionDialog, asyncio.Future[bool], HostKeyDialog]


@pytest.fixture
async def unknown_host(
        qtbot: QtBot, profile_store: ProfileStore, sshd_server: SshServer,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> UnknownHost:
    """An SFTP profile for ``sshd_server`` tested from a fresh HOME, where its key is
    unknown: the dialog, the test still running, and the host key prompt it opened."""
    monkeypatch.setenv("HOME", str(tmp_path))
    dialog = open_dialog(qtbot, profile_store)
    fill_sftp(dialog, "box", sshd_server)
    task = asyncio.ensure_future(dialog.test_connection())
    return dialog, task, await wait_for_child(dialog, HostKeyDialog)


@pytest.mark.qt
async def test_an_unknown_host_key_asks_with_its_fingerprint_and_accept_always_records_it(
        sshd_server: SshServer, unknown_host: UnknownHost) -> None:
    dialog, task, prompt = unknown_host
    assert prompt.fingerprint_label.text() == sshd_server.host_key_fingerprint
    assert prompt.key_type_label.text() == "ssh-ed25519"
    assert prompt.host_label.text() == f"{sshd_server.host}:{sshd_server.port}"
    assert prompt.cancel_button.isDefault()
    prompt.always_button.click()
    assert await task
    assert dialog.status_label.text().startswith(
        f"Connected to {sshd_server.user}@{sshd_server.host}:{sshd_server.port}: ")
    recorded = app_known_hosts_path().read_text()
    assert recorded.startswith(f"[{sshd_server.host}]:{sshd_server.port} ssh-ed25519 ")
    # Known now: the next test connects without asking.
    assert await dialog.test_connection()
    assert not [w for w in dialog.findChildren(HostKeyDialog) if w.isVisible()]


@pytest.mark.qt
async def test_declining_an_unknown_host_key_does_not_connect(
        unknown_host: UnknownHost) -> None:
    dialog, task, prompt = unknown_host
    prompt.cancel_button.click()
    assert not await task
    assert "was not accepted" in dialog.status_label.text()
    assert not app_known_hosts_path().exists()


@pytest.mark.qt
async def test_a_changed_host_key_is_refused_with_a_warning_and_nothing_to_accept(
        qtbot: QtBot, profile_store: ProfileStore, sshd_server: SshServer,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    accept_host_key(sshd_server.host, sshd_server.port, impostor.export_public_key().decode())
    dialog = open_dialog(qtbot, profile_store)
    fill_sftp(dialog, "box", sshd_server)
    task = asyncio.ensure_future(dialog.test_connection())
    refusal = await wait_for_child(dialog, HostKeyChangedDialog)
    assert "changed" in refusal.heading_label.text().lower()
    assert refusal.fingerprint_label.text() == sshd_server.host_key_fingerprint
    assert str(app_known_hosts_path()) in refusal.text_label.text()
    assert not hasattr(refusal, "always_button") and not hasattr(refusal, "once_button")
    assert [b.text().replace("&", "") for b in refusal.buttons.buttons()] == ["Close"]
    refusal.close_button.click()
    assert not await task
    assert "CHANGED" in dialog.status_label.text()
    assert impostor.export_public_key().decode().split()[1] in app_known_hosts_path().read_text()


@pytest.mark.qt
async def test_testing_without_a_needed_password_asks_for_it_inline(
        qtbot: QtBot, profile_store: ProfileStore) -> None:
    dialog = open_dialog(qtbot, profile_store)
    dialog.new_profile()
    dialog.name_edit.setText("box")
    choose_kind(dialog, "sftp")
    dialog.forms["sftp"].host_edit.setText("127.0.0.1")
    assert not await dialog.test_connection()
    assert dialog.secret_form.error_text(dialog.secret_edit) == \
        "Enter the password to test the connection."


def test_saved_profiles_fill_the_list_and_the_form(
        qtbot: QtBot, profile_store: ProfileStore) -> None:
    profile_store.save(Profile("web", "sftp", host="web.example", port=22, user="deploy",
                               root="/var/www", options={"auth_method": "agent"}))
    profile_store.save(Profile("aws", "s3", root="/logs", options={"region": "eu-west-1"}))
    dialog = open_dialog(qtbot, profile_store)
    assert dialog.name_edit.text() == "aws"
    s3 = dialog.forms["s3"]
    assert s3.preset().key == "aws" and not s3.endpoint_edit.isVisible()
    assert s3.bucket_edit.text() == "logs" and s3.region_edit.text() == "eu-west-1"
    dialog.select("web")
    assert dialog.stack.currentWidget() is dialog.forms["sftp"]
    assert dialog.forms["sftp"].folder_edit.text() == "/var/www"
    assert not dialog.secret_form.isVisible(), "the agent needs no secret"
