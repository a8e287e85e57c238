"""The profile list model: what the connection selector and manager show."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from orbit_gui.engine import Profile
from orbit_gui.engine.profiles import ProfileStore
from orbit_gui.models.profile_model import PROFILE_ROLE, ProfileListModel
from orbit_gui.models.profile_secrets import needs_secret, remembers_secret, secret_label
from tests.profile_support import profile_store

__all__ = ["profile_store"]

PROFILES = [
    Profile("media", "s3", root="/media", options={"endpoint_url": "http://127.0.0.1:9000",
                                                   "region": "eu-west-1"}),
    Profile("aws", "s3", options={"region": "us-east-1", "access_key": "AKIA"}),
    Profile("web", "sftp", host="web.example", port=2222, user="deploy", root="/srv"),
    Profile("nas", "smb", host="nas.lan", user="ana", root="/data", options={"share": "data"}),
    Profile("here", "local", root="/tmp"),
]


@pytest.fixture
def store(profile_store: ProfileStore) -> ProfileStore:
    for profile in PROFILES:
        profile_store.save(profile)
    return profile_store


def test_rows_roles_and_model_tester(qtbot: QtBot, qtmodeltester: ModelTester,
                                     store: ProfileStore) -> None:
    model = ProfileListModel(store)
    qtmodeltester.check(model)
    assert [p.name for p in model.profiles()] == ["aws", "here", "media", "nas", "web"]
    index = model.index(model.row_of("media"))
    assert index.data() == "media (S3)"
    assert index.data(PROFILE_ROLE) == PROFILES[0]
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "http://127.0.0.1:9000 (eu-west-1)"
    assert model.index(model.row_of("web")).data() == "web (SFTP)"
    assert model.index(model.row_of("web")).data(Qt.ItemDataRole.ToolTipRole) == \
        "deploy@web.example:2222"
    assert model.index(model.row_of("nas")).data(Qt.ItemDataRole.ToolTipRole) == \
        "ana@nas.lan/data"
    assert model.index(model.row_of("aws")).data(Qt.ItemDataRole.ToolTipRole) == \
        "Amazon S3 (us-east-1)"
    assert model.index(model.row_of("here")).data() == "here (Local)"
    icons = [model.index(row).data(Qt.ItemDataRole.DecorationRole) for row in range(5)]
    assert all(isinstance(icon, QIcon) and not icon.isNull() for icon in icons)
    assert model.profile(model.row_of("nas")).host == "nas.lan"
    assert model.row_of("nope") == -1
    assert model.load_error is None


def test_reload_shows_what_the_store_holds_now(qtbot: QtBot, qtmodeltester: ModelTester,
                                               store: ProfileStore) -> None:
    model = ProfileListModel(store)
    qtmodeltester.check(model)
    store.save(Profile("zz new", "local", root="/"))
    store.remove("aws")
    with qtbot.waitSignal(model.modelReset):
        model.reload()
    assert [p.name for p in model.profiles()] == ["here", "media", "nas", "web", "zz new"]


def test_an_unreadable_profiles_file_is_an_empty_list_with_the_reason(
        qtbot: QtBot, profile_store: ProfileStore) -> None:
    profile_store.path.parent.mkdir(parents=True)
    profile_store.path.write_text("{not json", encoding="utf-8")
    model = ProfileListModel(profile_store)
    assert model.rowCount() == 0
    assert model.load_error is not None and str(profile_store.path) in model.load_error


@pytest.mark.parametrize(("profile", "label", "needed"), [
    (Profile("a", "s3", options={"access_key": "AK"}), "Secret key", True),
    (Profile("a", "s3"), "Secret key", False),  # the AWS credential chain
    (Profile("a", "s3", options={"anonymous": True}), None, False),
    (Profile("a", "sftp", host="h", options={"auth_method": "password"}), "Password", True),
    (Profile("a", "sftp", host="h", options={"key_file": "/k"}), "Key passphrase", False),
    (Profile("a", "sftp", host="h", options={"auth_method": "agent"}), None, False),
    (Profile("a", "smb", host="h", user="u"), "Password", True),
    (Profile("a", "local"), None, False),
])
def test_which_secret_a_profile_needs(profile: Profile, label: str | None, needed: bool) -> None:
    assert secret_label(profile) == label
    assert needs_secret(profile) is needed


def test_the_remember_choice_defaults_to_yes() -> None:
    assert remembers_secret(Profile("a", "s3"))
    assert not remembers_secret(Profile("a", "s3", options={"remember_credentials": False}))
