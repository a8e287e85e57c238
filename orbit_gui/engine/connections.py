"""Open connections by profile name, once each, with the user in the loop.

Both front ends need the same thing: turn a saved profile's name into a
connected backend, with its secret from the keyring, and involve the user
when the store cannot be trusted or the secret is missing or wrong. The
:class:`ConnectionPool` does that and leaves the asking to its hooks: the
CLI refuses or accepts by flag, the GUI shows dialogs.

A host key accepted "once" is trusted until the process ends, recorded nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable

from .backend import Backend
from .backends.local import LocalBackend
from .errors import AuthenticationFailed, HostKeyUnknown, OrbitError
from .profiles import REMEMBER_OPTION, Profile, ProfileStore, backend_class, open_backend
from .types import ListOptions

__all__ = ["ConnectionPool", "HostKeyPrompt", "HostKeyTrust", "SecretPrompt"]

log = logging.getLogger(__name__)


class HostKeyTrust(enum.Enum):
    """What the user decided about an unknown host key."""

    REJECT = "reject"
    ONCE = "once"
    """Trust it for as long as this pool lives."""
    ALWAYS = "always"
    """Record it in the app's known-hosts file."""


HostKeyPrompt = Callable[[Profile, HostKeyUnknown], Awaitable[HostKeyTrust]]
"""Asked with the profile and the error (which carries the SHA-256 fingerprint)."""
SecretPrompt = Callable[[Profile, AuthenticationFailed | None], Awaitable[str | None]]
"""Asked for a secret after the store refused the one it had (or had none); None: give up."""

_MAX_SECRET_ATTEMPTS = 3


class ConnectionPool:
    """Backends by profile name (None: this computer), opened once, closed together.

    ``get`` is what :class:`~orbit_gui.engine.transfer.TransferQueue` takes as
    its opener, so resumed transfers share the connections the user opened.
    """

    def __init__(self, store: ProfileStore, *, host_key_prompt: HostKeyPrompt | None = None,
                 secret_prompt: SecretPrompt | None = None) -> None:
        self.store = store
        self.host_key_prompt = host_key_prompt
        self.secret_prompt = secret_prompt
        self._open: dict[str | None, Backend] = {}
        self._opening: dict[str | None, asyncio.Task[Backend]] = {}

    def cached(self, ref: str | None) -> Backend | None:
        """The open backend for ``ref``, if there is one."""
        return self._open.get(ref)

    async def get(self, ref: str | None) -> Backend:
        """The backend for the profile named ``ref``, connecting on first use."""
        if ref in self._open:
            return self._open[ref]
        task = self._opening.get(ref)
        if task is None:
            task = asyncio.ensure_future(self._open_ref(ref))
            self._opening[ref] = task
            task.add_done_callback(lambda _: self._opening.pop(ref, None))
        backend = await asyncio.shield(task)
        self._open[ref] = backend
        return backend

    async def connect(self, profile: Profile) -> Backend:
        """Connect to ``profile`` (it may be unsaved) and keep it under its name."""
        await self.release(profile.name)
        secret = await self._stored_secret(profile)
        backend = await self._open_profile(profile, secret)
        self._open[profile.name] = backend
        return backend

    async def release(self, ref: str | None) -> None:
        """Close the connection kept for ``ref`` (nothing if none)."""
        backend = self._open.pop(ref, None)
        if backend is not None:
            await _close_quietly(backend)

    async def aclose(self) -> None:
        for task in list(self._opening.values()):
            task.cancel()
        for backend in list(self._open.values()):
            await _close_quietly(backend)
        self._open.clear()

    async def _open_ref(self, ref: str | None) -> Backend:
        if ref is None:
            return LocalBackend()
        profile = await asyncio.to_thread(self.store.get, ref)
        return await self._open_profile(profile, await self._stored_secret(profile))

    async def _stored_secret(self, profile: Profile) -> str | None:
        """The secret kept for ``profile`` this session, else the keyring's, looked up
        only if connecting may use one: the keyring costs ~0.2 s (import, backend
        discovery, D-Bus), and a key file, an anonymous or AWS-chain S3 profile or one
        that never stores its secret needs none."""
        secrets = self.store.secrets
        kept = secrets.kept(profile.name)
        if kept is not None or profile.options.get(REMEMBER_OPTION) is False:
            return kept

        def uses_secret() -> bool:  # imports the backend, which connecting needs next
            return backend_class(profile.kind).uses_secret(profile)

        if not await asyncio.to_thread(uses_secret):
            return None
        return await asyncio.to_thread(secrets.get, profile.name)

    async def _open_profile(self, profile: Profile, secret: str | None) -> Backend:
        refused: AuthenticationFailed | None = None
        for _ in range(_MAX_SECRET_ATTEMPTS):
            try:
                backend = await self._open_trusting(profile, secret)
            except AuthenticationFailed as exc:
                if self.secret_prompt is None:
                    raise
                refused = exc
            else:
                if refused is not None and secret is not None:
                    # Typed and accepted: other pools of this process (the GUI's
                    # transfers have their own) find it without asking again.
                    self.store.secrets.keep_for_session(profile.name, secret)
                return backend
            answer = await self.secret_prompt(profile, refused)
            if answer is None:
                raise refused
            secret = answer
        assert refused is not None
        raise refused

    async def _open_trusting(self, profile: Profile, secret: str | None) -> Backend:
        try:
            return await _verified(await open_backend(profile, secret), profile)
        except HostKeyUnknown as exc:
            if self.host_key_prompt is None:
                raise
            trust = await self.host_key_prompt(profile, exc)
            if trust is HostKeyTrust.REJECT:
                raise OrbitError(f"did not connect to {exc.host}: its host key "
                                 f"({exc.fingerprint}) was not accepted", host=exc.host) from None
            await asyncio.to_thread(self._trust, profile, exc, trust)
            return await _verified(await open_backend(profile, secret), profile)

    @staticmethod
    def _trust(profile: Profile, exc: HostKeyUnknown, trust: HostKeyTrust) -> None:
        from .backends.sftp import trust_host_key  # host keys are SSH's alone

        trust_host_key(profile, exc, always=trust is HostKeyTrust.ALWAYS)
        log.info("trusted the host key of %s (%s, %s)", exc.host, exc.fingerprint, trust.value)


async def _verified(backend: Backend, profile: Profile) -> Backend:
    """``backend``, once a first request showed its credentials work.

    Some stores (S3) connect without a request; a wrong secret would only show
    in the first listing, too late to ask for another. Other failures here
    (no such folder, no permission) are left for that listing to report.
    """
    root = profile.root or "/"
    try:
        if (await backend.stat(root)).is_dir:
            entries = backend.list(root, ListOptions(page_size=1))
            try:
                await anext(aiter(entries), None)
            finally:
                await entries.aclose()  # type: ignore[attr-defined]
    except AuthenticationFailed:
        await _close_quietly(backend)
        raise
    except OrbitError:
        pass
    except BaseException:
        await _close_quietly(backend)
        raise
    return backend


async def _close_quietly(backend: Backend) -> None:
    with contextlib.suppress(Exception):
        await backend.aclose()
