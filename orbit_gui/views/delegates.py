"""Painters for the transfer queue: a progress bar, and the segment map of a transfer.

The segment map paints one cell per part or download range. When the parts do
not fit the cell at ``MIN_CELL`` pixels each, consecutive parts share a cell
(:func:`pack_segments`): its fill is the bytes done of the group, and its
colour the most telling state within it (failed, then retrying, then in
flight), so one slow or failing part among ten thousand still shows.
Colours come from the widget's palette, so light and dark themes both work.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..engine.transfer import PartProgress, PartState
from ..models.transfer_model import Role

__all__ = [
    "MIN_CELL",
    "ROW_HEIGHT",
    "Cell",
    "CellState",
    "ProgressDelegate",
    "SegmentMapDelegate",
    "pack_segments",
]

Index = QModelIndex | QPersistentModelIndex

MIN_CELL = 4
"""Narrowest cell in pixels, gap included."""
MAX_CELL = 12
ROW_HEIGHT = 24
"""Rows are this tall at least, so the bars and the segment map have room."""


class CellState(enum.IntEnum):
    """In order of how much a user needs to see it."""

    PENDING = 0
    DONE = 1
    IN_FLIGHT = 2
    RETRYING = 3
    FAILED = 4


_CELL_STATE = {PartState.PENDING: CellState.PENDING, PartState.DONE: CellState.DONE,
               PartState.IN_FLIGHT: CellState.IN_FLIGHT,
               PartState.RETRYING: CellState.RETRYING, PartState.FAILED: CellState.FAILED}


@dataclass(frozen=True, slots=True)
class Cell:
    fill: float
    """Fraction of the cell's bytes done, 0..1."""
    state: CellState
    parts: int
    """How many parts share the cell."""


def pack_segments(parts: Sequence[PartProgress], cells: int) -> list[Cell]:
    """``parts`` in at most ``cells`` cells, consecutive parts grouped evenly."""
    count = len(parts)
    if count == 0 or cells <= 0:
        return []
    cells = min(cells, count)
    packed: list[Cell] = []
    for number in range(cells):
        group = parts[number * count // cells : (number + 1) * count // cells]
        length = sum(p.length for p in group)
        done = sum(p.bytes_done for p in group)
        state = max(_CELL_STATE[p.state] for p in group)
        if state is CellState.DONE and any(p.state is not PartState.DONE for p in group):
            state = CellState.PENDING  # partly done group: its fill tells how much
        fill = done / length if length else (1.0 if state is CellState.DONE else 0.0)
        packed.append(Cell(min(1.0, fill), state, len(group)))
    return packed


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * amount,
                           a.greenF() + (b.greenF() - a.greenF()) * amount,
                           a.blueF() + (b.blueF() - a.blueF()) * amount)


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5


@dataclass(frozen=True, slots=True)
class _Colours:
    empty: QColor
    done: QColor
    flying: QColor
    retrying: QColor
    failed: QColor

    @classmethod
    def of(cls, palette: QPalette) -> _Colours:
        """The colours of ``palette``, worked out once per palette: a paint is called
        for every progress cell ten times a second, and each Qt call here costs the
        engine's loop thread a hand-over of the GIL."""
        key = palette.cacheKey()
        found = _COLOURS.get(key)
        if found is None:
            found = _COLOURS[key] = cls._of(palette)
            while len(_COLOURS) > 8:  # themes switched back and forth
                del _COLOURS[next(iter(_COLOURS))]
        return found

    @classmethod
    def _of(cls, palette: QPalette) -> _Colours:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        dark = _is_dark(palette)
        return cls(empty=_mix(base, text, 0.14 if dark else 0.10),
                   done=highlight,
                   flying=_mix(highlight, QColor("#ffffff"), 0.35 if dark else 0.25),
                   retrying=QColor("#f0ad4e" if dark else "#e08e0b"),
                   failed=QColor("#ff6b6b" if dark else "#d43f3a"))


_COLOURS: dict[int, _Colours] = {}


class SegmentMapDelegate(QStyledItemDelegate):
    """Paints ``Role.SEGMENTS`` of a row as a strip of cells; other rows as text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache: OrderedDict[tuple[int, int], tuple[object, list[Cell]]] = OrderedDict()

    def _cells(self, parts: tuple[PartProgress, ...], count: int) -> list[Cell]:
        # The model hands out the same tuple until the parts change: cache by identity
        # (holding the tuple so that its id cannot be reused while cached).
        key = (id(parts), count)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is parts:
            self._cache.move_to_end(key)
            return hit[1]
        cells = pack_segments(parts, count)
        self._cache[key] = (parts, cells)
        while len(self._cache) > 256:
            self._cache.popitem(last=False)
        return cells

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        parts = index.data(Role.SEGMENTS)
        if not parts:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        option.text = ""
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        frame = QRectF(option.rect.adjusted(2, 3, -2, -3))
        rect: QRect = option.rect.adjusted(4, 5, -4, -5)
        if rect.width() <= 0 or rect.height() <= 0:
            return
        cells = self._cells(parts, max(1, rect.width() // MIN_CELL))
        pitch = min(MAX_CELL, rect.width() / len(cells))
        gap = 1.0 if pitch >= 3 else 0.0
        colours = _Colours.of(option.palette)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(option.palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(frame, 3, 3)  # the strip stays legible on a selected row
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for number, cell in enumerate(cells):
            x = rect.left() + number * pitch
            box = QRectF(x, rect.top(), pitch - gap, rect.height())
            painter.fillRect(box, colours.empty)
            if cell.state is CellState.DONE:
                painter.fillRect(box, colours.done)
                continue
            colour = {CellState.RETRYING: colours.retrying, CellState.FAILED: colours.failed,
                      CellState.IN_FLIGHT: colours.flying}.get(cell.state, colours.done)
            if cell.state in (CellState.RETRYING, CellState.FAILED):
                painter.fillRect(box, colour)
            elif cell.fill > 0:
                height = box.height() * cell.fill
                painter.fillRect(QRectF(box.left(), box.bottom() - height, box.width(), height),
                                 colour)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 160), hint.height())


class ProgressDelegate(QStyledItemDelegate):
    """A slim bar from ``Role.FRACTION`` with the row's text ("71%") beside it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        fraction = index.data(Role.FRACTION)
        if fraction is None:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        text = option.text
        option.text = ""
        widget = option.widget
        style = widget.style() if widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        rect = option.rect.adjusted(4, 0, -4, 0)
        label = option.fontMetrics.horizontalAdvance("100%") + 8
        height = min(10, rect.height() - 6)
        bar = QRectF(rect.left(), rect.center().y() - height / 2 + 1,
                     max(0, rect.width() - label), height)
        colours = _Colours.of(option.palette)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setBrush(option.palette.color(QPalette.ColorRole.Base) if selected
                         else colours.empty)
        painter.drawRoundedRect(bar, 3, 3)
        filled = QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, fraction)),
                        bar.height())
        if filled.width() > 0:
            painter.setBrush(colours.done)
            painter.drawRoundedRect(filled, 3, 3)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText if selected
                                            else QPalette.ColorRole.Text))
        painter.drawText(QRect(rect.right() - label, rect.top(), label, rect.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 120), max(hint.height(), ROW_HEIGHT))
