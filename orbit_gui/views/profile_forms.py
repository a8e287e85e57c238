"""The kind-specific part of the connection manager's form: S3, SFTP, SMB, local.

Each form edits the fields of a :class:`Profile` other than its name and
secret, using the option names the backends read (see each backend's
settings). It validates before saving and shows each problem under its field.
The S3 form also keeps ``provider`` (which preset was chosen), an option only
the app reads.
"""

from __future__ import annotations

import getpass
import os
import re
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..engine import Profile
from ..models.profile_secrets import AUTH_OPTION, sftp_auth

__all__ = [
    "FORM_CLASSES",
    "LABEL_WIDTH",
    "PROVIDER_OPTION",
    "S3_PRESETS",
    "KindForm",
    "LocalForm",
    "S3Form",
    "S3Preset",
    "SftpForm",
    "SmbForm",
    "ValidatedForm",
]

PROVIDER_OPTION = "provider"
LABEL_WIDTH = 120
"""Every form's label column has this width, so stacked forms line up."""


class ValidatedForm(QWidget):
    """A form layout whose fields can each show an error line right under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._errors: dict[QWidget, QLabel] = {}
        self._rows: dict[QWidget, QWidget] = {}

    def add_field(self, label: str, field: QWidget, hint: str = "",
                  control: QWidget | None = None) -> None:
        """A row for ``field`` (``control``, if given, is what the row shows, e.g. the
        field with a Browse button), an optional grey hint and a hidden error line."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(control or field)
        if hint:
            hint_label = QLabel(hint)
            hint_label.setWordWrap(True)
            hint_label.setEnabled(False)  # the palette's disabled text: a quiet grey
            column.addWidget(hint_label)
        error = QLabel()
        error.setObjectName("fieldError")
        error.setWordWrap(True)
        error.setStyleSheet("color: #c62828;")
        error.hide()
        column.addWidget(error)
        self.form.addRow(label, box)
        label_widget = self.form.labelForField(box)
        if isinstance(label_widget, QLabel):
            label_widget.setMinimumWidth(LABEL_WIDTH)
        self._errors[field] = error
        self._rows[field] = box

    def set_field_visible(self, field: QWidget, visible: bool) -> None:
        self.form.setRowVisible(self._rows[field], visible)

    def set_field_label(self, field: QWidget, text: str) -> None:
        label = self.form.labelForField(self._rows[field])
        if isinstance(label, QLabel):
            label.setText(text)

    def show_errors(self, errors: dict[QWidget, str]) -> None:
        """Show ``errors`` under their fields and clear every other error line."""
        for field, label in self._errors.items():
            label.setText(errors.get(field, ""))
            label.setVisible(field in errors)

    def error_text(self, field: QWidget) -> str:
        label = self._errors[field]
        return label.text() if not label.isHidden() else ""


def _host_error(text: str) -> str | None:
    if not text:
        return "Enter the server's host name or IP address."
    if "://" in text:
        return "Enter only the host name, without a scheme such as sftp:// or smb://."
    if re.search(r"[\s/\\]", text):
        return "A host name cannot contain spaces, '/' or '\\'."
    return None


def _port_box(default: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 65535)
    box.setValue(default)
    box.setAccelerated(True)
    return box


def _file_row(edit: QLineEdit, browse: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(browse)
    return row


class KindForm(ValidatedForm):
    """The fields of one kind of profile; ``changed`` fires on every edit."""

    kind = ""
    changed = Signal()

    def load(self, profile: Profile) -> None:
        raise NotImplementedError

    def build(self, name: str, options: dict[str, Any]) -> Profile:
        """The profile these fields describe, with ``options`` (the app's own) added."""
        raise NotImplementedError

    def validate(self) -> dict[QWidget, str]:
        """Field -> what is wrong with it; empty when the profile can be saved."""
        raise NotImplementedError

    def _watch(self, *widgets: QWidget) -> None:
        for widget in widgets:
            if isinstance(widget, QLineEdit):
                widget.textChanged.connect(self.changed)
            elif isinstance(widget, QSpinBox):
                widget.valueChanged.connect(self.changed)
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self.changed)
            elif isinstance(widget, QCheckBox):
                widget.toggled.connect(self.changed)


# -- S3 ---------------------------------------------------------------------------------------


class S3Preset:
    """An S3 provider: its endpoint (``{region}`` filled in), default region, addressing."""

    def __init__(self, key: str, label: str, endpoint: str | None, region: str,
                 path_style: bool) -> None:
        self.key, self.label, self.endpoint = key, label, endpoint
        self.region, self.path_style = region, path_style

    def endpoint_for(self, region: str) -> str:
        return (self.endpoint or "").format(region=region or self.region)


S3_PRESETS = [
    S3Preset("aws", "Amazon S3", None, "us-east-1", False),
    S3Preset("minio", "MinIO", "http://localhost:9000", "us-east-1", True),
    S3Preset("r2", "Cloudflare R2", "https://ACCOUNT_ID.r2.cloudflarestorage.com", "auto", True),
    S3Preset("wasabi", "Wasabi", "https://s3.{region}.wasabisys.com", "us-east-1", True),
    S3Preset("custom", "Other S3-compatible (custom URL)", "", "", True),
]
_PRESETS = {preset.key: preset for preset in S3_PRESETS}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]+$")


def _guess_provider(endpoint: str) -> str:
    if not endpoint:
        return "aws"
    host = urlsplit(endpoint).hostname or ""
    for key, suffix in (("aws", ".amazonaws.com"), ("r2", ".r2.cloudflarestorage.com"),
                        ("wasabi", ".wasabisys.com")):
        if host.endswith(suffix):
            return key
    return "custom"


class S3Form(KindForm):
    kind = "s3"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.provider_combo = QComboBox()
        for preset in S3_PRESETS:
            self.provider_combo.addItem(preset.label, preset.key)
        self.endpoint_edit = QLineEdit()
        self.region_edit = QLineEdit()
        self.path_style_box = QCheckBox("Path-style addressing (endpoint/bucket/key)")
        self.access_key_edit = QLineEdit()
        self.access_key_edit.setPlaceholderText("e.g. AKIAIOSFODNN7EXAMPLE")
        self.bucket_edit = QLineEdit()
        self.bucket_edit.setPlaceholderText("all buckets")
        self.add_field("Provider:", self.provider_combo)
        self.add_field("Endpoint URL:", self.endpoint_edit)
        self.add_field("Region:", self.region_edit)
        self.add_field("", self.path_style_box)
        self.add_field("Access key ID:", self.access_key_edit,
                       "Empty: this computer's AWS credentials (environment, ~/.aws).")
        self.add_field("Bucket:", self.bucket_edit)
        self._watch(self.provider_combo, self.endpoint_edit, self.region_edit,
                    self.path_style_box, self.access_key_edit, self.bucket_edit)
        self.provider_combo.currentIndexChanged.connect(self._provider_chosen)
        self.region_edit.textEdited.connect(self._region_edited)
        self._provider_chosen()

    def preset(self) -> S3Preset:
        return _PRESETS[str(self.provider_combo.currentData())]

    def _provider_chosen(self) -> None:
        preset = self.preset()
        self.set_field_visible(self.endpoint_edit, preset.endpoint is not None)
        self.endpoint_edit.setText(preset.endpoint_for(self.region_edit.text()))
        self.endpoint_edit.setPlaceholderText("https://s3.example.com"
                                              if preset.key == "custom" else "")
        self.region_edit.setText(preset.region)
        self.region_edit.setPlaceholderText(preset.region or "us-east-1")
        self.path_style_box.setChecked(preset.path_style)

    def _region_edited(self, region: str) -> None:
        if self.preset().key == "wasabi":
            self.endpoint_edit.setText(self.preset().endpoint_for(region))

    def load(self, profile: Profile) -> None:
        options = profile.options
        endpoint = str(options.get("endpoint_url") or "")
        provider = str(options.get(PROVIDER_OPTION) or _guess_provider(endpoint))
        self.provider_combo.setCurrentIndex(max(0, self.provider_combo.findData(provider)))
        self._provider_chosen()
        self.endpoint_edit.setText(endpoint)
        self.region_edit.setText(str(options.get("region") or ""))
        self.path_style_box.setChecked(bool(options.get("path_style", bool(endpoint))))
        self.access_key_edit.setText(str(options.get("access_key") or profile.user))
        self.bucket_edit.setText(profile.root.strip("/"))

    def build(self, name: str, options: dict[str, Any]) -> Profile:
        preset = self.preset()
        opts: dict[str, Any] = {PROVIDER_OPTION: preset.key,
                                "path_style": self.path_style_box.isChecked()}
        if preset.endpoint is not None:
            opts["endpoint_url"] = self.endpoint_edit.text().strip()
        if region := self.region_edit.text().strip():
            opts["region"] = region
        if access_key := self.access_key_edit.text().strip():
            opts["access_key"] = access_key
        bucket = self.bucket_edit.text().strip().strip("/")
        return Profile(name, "s3", root=f"/{bucket}" if bucket else "/",
                       options={**opts, **options})

    def validate(self) -> dict[QWidget, str]:
        errors: dict[QWidget, str] = {}
        preset = self.preset()
        endpoint = self.endpoint_edit.text().strip()
        if preset.endpoint is not None:
            parts = urlsplit(endpoint)
            if not endpoint:
                errors[self.endpoint_edit] = "Enter the endpoint URL of the S3 service."
            elif "ACCOUNT_ID" in endpoint:
                errors[self.endpoint_edit] = "Replace ACCOUNT_ID with your Cloudflare account ID."
            elif parts.scheme not in ("http", "https") or not parts.hostname:
                errors[self.endpoint_edit] = ("The endpoint must be an http:// or https:// URL "
                                              "such as https://s3.example.com.")
        region = self.region_edit.text().strip()
        if region and not _REGION.match(region):
            errors[self.region_edit] = ("A region is lowercase letters, digits and '-', "
                                        "such as eu-west-1.")
        bucket = self.bucket_edit.text().strip().strip("/").split("/", 1)[0]
        if bucket and not _BUCKET.match(bucket):
            errors[self.bucket_edit] = ("A bucket name has 3 to 63 lowercase letters, digits, "
                                        "'.' or '-' (leave it empty to list all buckets).")
        return errors


# -- SFTP -------------------------------------------------------------------------------------


class SftpForm(KindForm):
    kind = "sftp"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("sftp.example.com")
        self.port_box = _port_box(22)
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText(getpass.getuser())
        self.auth_combo = QComboBox()
        self.auth_combo.addItem("Password", "password")
        self.auth_combo.addItem("Private key file", "key")
        self.auth_combo.addItem("SSH agent or default keys", "agent")
        self.key_file_edit = QLineEdit()
        self.key_file_edit.setPlaceholderText("~/.ssh/id_ed25519")
        self.key_browse = QPushButton("Browse…")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("/")
        self.add_field("Host:", self.host_edit)
        self.add_field("Port:", self.port_box)
        self.add_field("User:", self.user_edit)
        self.add_field("Log in with:", self.auth_combo)
        self.add_field("Key file:", self.key_file_edit,
                       control=_file_row(self.key_file_edit, self.key_browse))
        self.add_field("Start folder:", self.folder_edit)
        self._watch(self.host_edit, self.port_box, self.user_edit, self.auth_combo,
                    self.key_file_edit, self.folder_edit)
        self.auth_combo.currentIndexChanged.connect(self._auth_chosen)
        self.key_browse.clicked.connect(self._browse_key)
        self._auth_chosen()

    def auth(self) -> str:
        return str(self.auth_combo.currentData())

    def _auth_chosen(self) -> None:
        self.set_field_visible(self.key_file_edit, self.auth() == "key")

    def _browse_key(self) -> None:
        start = os.path.expanduser(self.key_file_edit.text() or "~/.ssh")
        path, _ = QFileDialog.getOpenFileName(self, "Private key file", start)
        if path:
            self.key_file_edit.setText(path)

    def load(self, profile: Profile) -> None:
        self.host_edit.setText(profile.host)
        self.port_box.setValue(profile.port or 22)
        self.user_edit.setText(profile.user)
        self.auth_combo.setCurrentIndex(self.auth_combo.findData(sftp_auth(profile)))
        self.key_file_edit.setText(str(profile.options.get("key_file") or ""))
        self.folder_edit.setText("" if profile.root == "/" else profile.root)

    def build(self, name: str, options: dict[str, Any]) -> Profile:
        opts: dict[str, Any] = {AUTH_OPTION: self.auth()}
        if self.auth() == "key":
            opts["key_file"] = self.key_file_edit.text().strip()
        return Profile(name, "sftp", host=self.host_edit.text().strip(),
                       port=self.port_box.value(), user=self.user_edit.text().strip(),
                       root=self.folder_edit.text().strip() or "/",
                       options={**opts, **options})

    def validate(self) -> dict[QWidget, str]:
        errors: dict[QWidget, str] = {}
        if problem := _host_error(self.host_edit.text().strip()):
            errors[self.host_edit] = problem
        if self.auth() == "key":
            key_file = os.path.expanduser(self.key_file_edit.text().strip())
            if not key_file:
                errors[self.key_file_edit] = "Choose the private key file."
            elif not os.path.isfile(key_file):
                errors[self.key_file_edit] = f"There is no file {key_file}."
        folder = self.folder_edit.text().strip()
        if folder and not folder.startswith("/"):
            errors[self.folder_edit] = "The start folder must be an absolute path such as /srv."
        return errors


# -- SMB --------------------------------------------------------------------------------------


class SmbForm(KindForm):
    kind = "smb"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("nas.local")
        self.port_box = _port_box(445)
        self.share_edit = QLineEdit()
        self.share_edit.setPlaceholderText("e.g. public")
        self.domain_edit = QLineEdit()
        self.domain_edit.setPlaceholderText("WORKGROUP (optional)")
        self.user_edit = QLineEdit()
        self.encrypt_combo = QComboBox()
        self.encrypt_combo.addItem("As the share requires", "auto")
        self.encrypt_combo.addItem("Preferred (when the server can)", "preferred")
        self.encrypt_combo.addItem("Required (refuse unencrypted)", "required")
        self.add_field("Host:", self.host_edit)
        self.add_field("Port:", self.port_box)
        self.add_field("Share:", self.share_edit)
        self.add_field("Domain:", self.domain_edit)
        self.add_field("User:", self.user_edit)
        self.add_field("Encryption:", self.encrypt_combo)
        self._watch(self.host_edit, self.port_box, self.share_edit, self.domain_edit,
                    self.user_edit, self.encrypt_combo)

    def load(self, profile: Profile) -> None:
        options = profile.options
        self.host_edit.setText(profile.host)
        self.port_box.setValue(profile.port or 445)
        share = options.get("share") or profile.root.strip("/").split("/", 1)[0]
        self.share_edit.setText(str(share))
        self.domain_edit.setText(str(options.get("domain") or ""))
        self.user_edit.setText(profile.user)
        encrypt = str(options.get("encrypt") or "auto")
        self.encrypt_combo.setCurrentIndex(max(0, self.encrypt_combo.findData(encrypt)))

    def build(self, name: str, options: dict[str, Any]) -> Profile:
        share = self.share_edit.text().strip().strip("/\\")
        opts: dict[str, Any] = {"share": share, "encrypt": self.encrypt_combo.currentData()}
        if domain := self.domain_edit.text().strip():
            opts["domain"] = domain
        return Profile(name, "smb", host=self.host_edit.text().strip(),
                       port=self.port_box.value(), user=self.user_edit.text().strip(),
                       root=f"/{share}", options={**opts, **options})

    def validate(self) -> dict[QWidget, str]:
        errors: dict[QWidget, str] = {}
        if problem := _host_error(self.host_edit.text().strip()):
            errors[self.host_edit] = problem
        share = self.share_edit.text().strip().strip("/\\")
        if not share:
            errors[self.share_edit] = "Enter the name of the share to open."
        elif re.search(r"[/\\]", share):
            errors[self.share_edit] = "Enter only the share's name, without '/' or '\\'."
        return errors


# -- local ------------------------------------------------------------------------------------


class LocalForm(KindForm):
    kind = "local"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText(os.path.expanduser("~"))
        self.folder_browse = QPushButton("Browse…")
        self.add_field("Folder:", self.folder_edit,
                       control=_file_row(self.folder_edit, self.folder_browse))
        self._watch(self.folder_edit)
        self.folder_browse.clicked.connect(self._browse)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder", self.folder_edit.text())
        if path:
            self.folder_edit.setText(path)

    def load(self, profile: Profile) -> None:
        self.folder_edit.setText(profile.root)

    def build(self, name: str, options: dict[str, Any]) -> Profile:
        folder = os.path.expanduser(self.folder_edit.text().strip())
        return Profile(name, "local", root=folder, options=dict(options))

    def validate(self) -> dict[QWidget, str]:
        folder = os.path.expanduser(self.folder_edit.text().strip())
        if not folder:
            return {self.folder_edit: "Choose the folder this connection opens."}
        if not os.path.isabs(folder):
            return {self.folder_edit: "Enter an absolute path such as /home/ana/Projects."}
        if not os.path.isdir(folder):
            return {self.folder_edit: f"There is no folder {folder}."}
        return {}


FORM_CLASSES: dict[str, type[KindForm]] = {
    form.kind: form for form in (S3Form, SftpForm, SmbForm, LocalForm)
}
"""Profile kind -> its form, in the order the kind selector lists them."""
