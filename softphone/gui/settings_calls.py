"""The settings dialog's Codecs and Calls pages, and what of them a running user agent takes at once.

:func:`apply_to_ua` hands do-not-disturb, auto-answer, forwarding and the codec order to a UA, on its
loop thread; :func:`forwarding_for` merges the forwarding rules into the one target per account the UA
can follow.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.i18n import QT_TRANSLATE_NOOP
from softphone.store import ForwardingRule, Settings, with_default_codecs
from softphone.ua import Forwarding, UserAgent

CODEC_TEXT = {
    "opus": QT_TRANSLATE_NOOP("CodecsPage", "Opus — wideband, robust to loss"),
    "G722": QT_TRANSLATE_NOOP("CodecsPage", "G.722 — wideband (HD voice), widely supported"),
    "PCMU": QT_TRANSLATE_NOOP("CodecsPage", "G.711 µ-law (PCMU) — narrowband, everywhere"),
    "PCMA": QT_TRANSLATE_NOOP("CodecsPage", "G.711 A-law (PCMA) — narrowband, everywhere"),
}
FORWARD_KINDS = (
    ("always", QT_TRANSLATE_NOOP("CallsPage", "Always")),
    ("busy", QT_TRANSLATE_NOOP("CallsPage", "When busy")),
    ("no_answer", QT_TRANSLATE_NOOP("CallsPage", "When not answered")),
)


def forwarding_for(settings: Settings, aor: str) -> tuple[Forwarding | None, str | None]:
    """The UA's forwarding for ``aor`` from the enabled rules, and a note when rules had to be merged.

    The UA forwards to one target per account: "always" wins; "busy" and "no answer" share a target
    when both are set (the busy rule's, when they differ).
    """
    rules = [r for r in settings.forwarding if r.enabled and r.target.strip() and r.account in (None, aor)]
    always = next((r for r in rules if r.always), None)
    if always is not None:
        return Forwarding(always.target.strip(), always=True), None
    busy = next((r for r in rules if r.busy), None)
    late = next((r for r in rules if r.no_answer is not None), None)
    chosen = busy if busy is not None else late
    if chosen is None:
        return None, None
    target = chosen.target.strip()
    note = None
    if busy is not None and late is not None and late.target.strip() != target:
        note = f"calls not answered go to {target} too: the phone forwards to one address at a time"
    return Forwarding(target, busy=busy is not None, no_answer=late.no_answer if late is not None else None), note


def apply_to_ua(settings: Settings, ua: UserAgent, *, only_set: bool = False) -> list[str]:
    """Give ``ua`` do-not-disturb, auto-answer, forwarding and the codec order of ``settings``.

    Call it on the UA's loop thread (or before the UA starts). ``only_set`` (at start-up) leaves what
    the settings do not ask for as the UA has it. Returns notes on what could not be applied exactly.
    """
    notes: list[str] = []
    if settings.do_not_disturb or not only_set:
        ua.busy = settings.do_not_disturb
    for account in ua.accounts:
        if settings.auto_answer is not None or not only_set:
            account.auto_answer = settings.auto_answer
        forwarding, note = forwarding_for(settings, account.aor)
        if forwarding is not None or not only_set:
            account.forwarding = forwarding
        if note:
            notes.append(note)
    order = [name.lower() for name in with_default_codecs(settings.codecs)]

    def rank(codec: Any) -> int:
        name = str(getattr(codec, "name", "")).lower()
        return order.index(name) if name in order else len(order)

    codecs = getattr(getattr(ua, "audio", None), "codecs", None)
    if isinstance(codecs, list):
        codecs.sort(key=rank)
    return notes


class CodecsPage(QWidget):
    """The codec order, changed with Up and Down."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Offered in this order (the first one the other phone has is used):")))
        row = QHBoxLayout()
        self.codec_list = QListWidget()
        self.codec_list.setAccessibleName(self.tr("Codec order"))
        known = [c for c in with_default_codecs(settings.codecs) if c in CODEC_TEXT]
        known += [c for c in CODEC_TEXT if c not in known]
        for name in known:
            item = QListWidgetItem(self.tr(CODEC_TEXT[name]))
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.codec_list.addItem(item)
        self.codec_list.setCurrentRow(0)
        row.addWidget(self.codec_list, 1)
        buttons = QVBoxLayout()
        self.codec_up = QPushButton(self.tr("&Up"))
        self.codec_up.setAccessibleName(self.tr("Move codec up"))
        self.codec_up.clicked.connect(lambda: self.move_codec(-1))
        self.codec_down = QPushButton(self.tr("&Down"))
        self.codec_down.setAccessibleName(self.tr("Move codec down"))
        self.codec_down.clicked.connect(lambda: self.move_codec(1))
        buttons.addWidget(self.codec_up)
        buttons.addWidget(self.codec_down)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        info = QLabel(self.tr("Telephone events (DTMF, RFC 4733) are always offered with each codec."))
        info.setWordWrap(True)
        layout.addWidget(info)

    def move_codec(self, step: int) -> None:
        row = self.codec_list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.codec_list.count():
            return
        item = self.codec_list.takeItem(row)
        self.codec_list.insertItem(target, item)
        self.codec_list.setCurrentRow(target)

    def codec_order(self) -> list[str]:
        return [str(self.codec_list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.codec_list.count())]

    def collect_into(self, settings: Settings) -> None:
        """The order shown first, then the codecs this page does not list, as they were."""
        others = [c for c in settings.codecs if c not in CODEC_TEXT]
        settings.codecs = self.codec_order() + others


class CallsPage(QWidget):
    """Auto-answer, do-not-disturb and forwarding (always, when busy, when not answered)."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        layout = QVBoxLayout(self)
        answer = QGroupBox(self.tr("Answering"))
        grid = QGridLayout(answer)
        self.auto_answer = QCheckBox(self.tr("&Answer calls automatically after"))
        self.auto_answer.setAccessibleName(self.tr("Auto-answer"))
        self.auto_answer.setChecked(settings.auto_answer is not None)
        self.auto_answer_delay = QDoubleSpinBox()
        self.auto_answer_delay.setRange(0.0, 60.0)
        self.auto_answer_delay.setDecimals(1)
        self.auto_answer_delay.setSingleStep(0.5)
        self.auto_answer_delay.setSuffix(self.tr(" s"))
        self.auto_answer_delay.setValue(settings.auto_answer or 0.0)
        self.auto_answer_delay.setAccessibleName(self.tr("Auto-answer delay in seconds"))
        self.auto_answer.toggled.connect(self.auto_answer_delay.setEnabled)
        self.auto_answer_delay.setEnabled(self.auto_answer.isChecked())
        self.dnd = QCheckBox(self.tr("Do &not disturb: callers hear busy (or are forwarded when busy)"))
        self.dnd.setAccessibleName(self.tr("Do not disturb"))
        self.dnd.setChecked(settings.do_not_disturb)
        grid.addWidget(self.auto_answer, 0, 0)
        grid.addWidget(self.auto_answer_delay, 0, 1)
        grid.addWidget(self.dnd, 1, 0, 1, 2)
        layout.addWidget(answer)

        forward = QGroupBox(self.tr("Forwarding"))
        fgrid = QGridLayout(forward)
        self.forward_checks: dict[str, QCheckBox] = {}
        self.forward_targets: dict[str, QLineEdit] = {}
        rules = {kind: self._rule(kind) for kind, _text in FORWARD_KINDS}
        for row, (kind, text) in enumerate(FORWARD_KINDS):
            text = self.tr(text)
            check = QCheckBox(text)
            check.setAccessibleName(self.tr("Forward {lower}").format(lower=text.lower()))
            target = QLineEdit()
            target.setPlaceholderText(self.tr("sip:voicemail@example.com or a number"))
            target.setAccessibleName(self.tr("Forward {lower} to").format(lower=text.lower()))
            rule = rules[kind]
            if rule is not None:
                check.setChecked(rule.enabled)
                target.setText(rule.target)
            target.setEnabled(check.isChecked())
            check.toggled.connect(target.setEnabled)
            self.forward_checks[kind] = check
            self.forward_targets[kind] = target
            fgrid.addWidget(check, row, 0)
            fgrid.addWidget(target, row, 1)
        late = rules["no_answer"]
        self.no_answer_delay = QSpinBox()
        self.no_answer_delay.setRange(1, 300)
        self.no_answer_delay.setSuffix(self.tr(" s"))
        self.no_answer_delay.setValue(int(late.no_answer) if late is not None and late.no_answer else 20)
        self.no_answer_delay.setAccessibleName(self.tr("Forward when not answered after, seconds"))
        self.no_answer_delay.setEnabled(self.forward_checks["no_answer"].isChecked())
        self.forward_checks["no_answer"].toggled.connect(self.no_answer_delay.setEnabled)
        fgrid.addWidget(QLabel(self.tr("after")), len(FORWARD_KINDS), 0, Qt.AlignmentFlag.AlignRight)
        fgrid.addWidget(self.no_answer_delay, len(FORWARD_KINDS), 1, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(forward)
        hint = QLabel(self.tr("Forwarded callers are redirected (302) to the target; their phone calls it."))
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)

    def _rule(self, kind: str) -> ForwardingRule | None:
        for rule in self.settings.forwarding:
            if rule.account is None and (
                (kind == "always" and rule.always)
                or (kind == "busy" and rule.busy)
                or (kind == "no_answer" and rule.no_answer is not None)
            ):
                return rule
        return None

    def forwarding_rules(self) -> list[ForwardingRule]:
        kept = [r for r in self.settings.forwarding if r.account is not None]
        for kind, _text in FORWARD_KINDS:
            target = self.forward_targets[kind].text().strip()
            enabled = self.forward_checks[kind].isChecked()
            if not target:
                continue
            old = self._rule(kind)
            extra = dict(old.extra) if old is not None else {}
            kept.append(
                ForwardingRule(
                    target,
                    always=kind == "always",
                    busy=kind == "busy",
                    no_answer=float(self.no_answer_delay.value()) if kind == "no_answer" else None,
                    enabled=enabled,
                    extra=extra,
                )
            )
        return kept

    def collect_into(self, settings: Settings) -> None:
        settings.auto_answer = float(self.auto_answer_delay.value()) if self.auto_answer.isChecked() else None
        settings.do_not_disturb = self.dnd.isChecked()
        settings.forwarding = self.forwarding_rules()
