"""Awaiting a modal dialog without a nested event loop.

``QDialog.exec()`` spins a nested loop; on the qasync loop that would run other
asyncio tasks inside the awaiting task's step, which asyncio forbids. These
dialogs are opened window-modal with ``open()`` and awaited instead.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog

__all__ = ["run_dialog"]


async def run_dialog(dialog: QDialog) -> int:
    """Show ``dialog`` modally and return its result code once it closes.

    Cancelling the awaiting task rejects (closes) the dialog.
    """
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not done.done():
            done.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await done
    except asyncio.CancelledError:
        dialog.reject()
        raise
    finally:
        dialog.finished.disconnect(finished)
