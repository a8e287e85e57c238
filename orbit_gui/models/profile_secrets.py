"""Which secret a profile needs, and whether the user wants it remembered.

Two options are the app's own (neither looks like a secret, which the profile
store would refuse): ``remember_credentials`` (False: the secret is asked for at
each app start, never stored; connecting then skips the keyring) and, for SFTP,
``auth_method`` ("password", "key" or "agent"; the engine ignores it).
"""

from __future__ import annotations

from ..engine import Profile
from ..engine.profiles import REMEMBER_OPTION

__all__ = [
    "AUTH_OPTION",
    "REMEMBER_OPTION",
    "needs_secret",
    "remembers_secret",
    "secret_label",
    "sftp_auth",
]

AUTH_OPTION = "auth_method"


def sftp_auth(profile: Profile) -> str:
    """"password", "key" (a key file) or "agent" (ssh-agent and default keys)."""
    method = profile.options.get(AUTH_OPTION)
    if method in ("password", "key", "agent"):
        return str(method)
    return "key" if profile.options.get("key_file") else "password"


def secret_label(profile: Profile) -> str | None:
    """What the profile's secret is ("Password", "Secret key"...), or None without one."""
    if profile.kind == "s3":
        anonymous = profile.options.get("anonymous")
        return None if anonymous else "Secret key"
    if profile.kind == "sftp":
        return {"password": "Password", "key": "Key passphrase"}.get(sftp_auth(profile))
    if profile.kind == "smb":
        return "Password"
    return None


def needs_secret(profile: Profile) -> bool:
    """True when connecting without a secret cannot work (so the user must be asked).

    A key file may be unencrypted and an S3 profile without an access key uses
    the AWS credential chain: neither needs one.
    """
    if profile.kind == "s3":
        return bool(profile.options.get("access_key") or profile.user) and \
            secret_label(profile) is not None
    if profile.kind == "sftp":
        return sftp_auth(profile) == "password"
    return profile.kind == "smb" and bool(profile.user)


def remembers_secret(profile: Profile) -> bool:
    return bool(profile.options.get(REMEMBER_OPTION, True))
