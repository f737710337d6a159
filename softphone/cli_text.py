"""What ``softphone-cli`` prints: one readable line per event, and network text made safe for a terminal."""

from __future__ import annotations

import logging
import re

from softphone import cli_paging
from softphone.ua import (
    CallbackReadyEvent,
    CallEvent,
    ComposingEvent,
    ConferenceEvent,
    DialogStateEvent,
    DtmfEvent,
    Event,
    IncomingCallEvent,
    LanAnnounceEvent,
    LanPeerEvent,
    MediaPathEvent,
    MediaWarningEvent,
    MessageEvent,
    MessageStatusEvent,
    MwiEvent,
    NetworkChangeEvent,
    PageEndedEvent,
    PageStartedEvent,
    PresenceEvent,
    QualityEvent,
    RecordingEvent,
    RegistrationEvent,
    SubscriptionEvent,
    TransferEvent,
    VideoEvent,
    VideoQualityEvent,
    WatcherEvent,
)

__all__ = ["PrintableFormatter", "describe", "printable"]


# C0 and C1 controls (ANSI escape sequences start with one), DEL, and the bidirectional overrides and
# isolates that can make a line read differently from what it holds.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_IN_LOG = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters and bidi overrides as ``\\xNN`` escapes."""
    return _UNPRINTABLE.sub(_escape_char, text)


class PrintableFormatter(logging.Formatter):
    """Log lines with what came from the network neutralised (line breaks of tracebacks kept)."""

    def format(self, record: logging.LogRecord) -> str:
        return _UNPRINTABLE_IN_LOG.sub(_escape_char, super().format(record))


def describe(event: Event) -> str:
    """One readable line for an event."""
    if isinstance(event, RegistrationEvent):
        detail = f" {event.code} {event.reason}" if event.code is not None else f" {event.reason}".rstrip()
        expires = f" (expires {event.expires} s)" if event.expires else ""
        if event.state == "failed" and event.retry_in is not None:
            expires = f"; retrying in {event.retry_in:g} s"
        elif event.state == "failed" and event.needs_password:
            expires = "; waiting for a password"
        return f"registration {event.account}: {event.state}{detail}{expires}"
    if isinstance(event, IncomingCallEvent):
        who = f'"{event.remote_display_name}" <{event.remote_uri}>' if event.remote_display_name else event.remote_uri
        extra = f" photo {event.photo_url}" if event.photo_url else ""
        if event.asserted_identity:
            extra += f" identity {event.asserted_identity}"
        return f"incoming call {event.call_id} from {who}{extra}"
    if isinstance(event, CallEvent):
        status = (
            f" ({event.code} {event.reason})"
            if event.code is not None
            else (f" ({event.reason})" if event.reason else "")
        )
        arrow = "to" if event.direction == "outgoing" else "from"
        lock = f" [{event.encryption.describe()}]" if event.encryption is not None and event.state != "ended" else ""
        return f"call {event.call_id} {arrow} {event.remote_uri}: {event.state}{status}{lock}"
    if isinstance(event, TransferEvent):
        code = f" {event.code}" if event.code is not None else ""
        return f"transfer of {event.call_id} to {event.target}: {event.state}{code}"
    if isinstance(event, DtmfEvent):
        return f"dtmf on {event.call_id}: {event.digit} ({event.method})"
    if isinstance(event, QualityEvent):
        rtt = f" rtt {event.rtt_ms:.0f} ms" if event.rtt_ms is not None else ""
        echo = f", ERLE {event.erle_db:.1f} dB" if event.erle_db is not None else ""
        if event.echo_delay_ms is not None:
            echo += f", echo delay {event.echo_delay_ms:.0f} ms"
        path = f", path {event.path}" if event.path else ""
        if event.path_local and event.path_remote:
            path += f" {event.path_local} -> {event.path_remote}"
        return (
            f"quality of {event.call_id}: MOS {event.mos:.2f}, loss {event.loss_percent:.1f} %,"
            f" jitter {event.jitter_ms:.1f} ms{rtt}, sent {event.packets_sent} received {event.packets_received}"
            f"{echo}{path}"
        )
    if isinstance(event, VideoEvent):
        if not event.active:
            return f"video of {event.call_id} stopped"
        if not event.sending:
            return f"video of {event.call_id}: camera off (receiving only)"
        return f"video of {event.call_id}: sending {event.source or 'nothing'}"
    if isinstance(event, VideoQualityEvent):
        sending = ""
        if event.send_width:
            sending = (
                f"; sending {event.send_width}x{event.send_height} {event.send_fps} fps"
                f" at up to {event.target_bitrate_kbps:.0f} kbit/s"
            )
        sync = f", picture {event.av_offset_ms:+.0f} ms from its sound" if event.av_offset_ms is not None else ""
        return (
            f"video of {event.call_id}: {event.codec} {event.width}x{event.height} {event.fps:.0f} fps,"
            f" {event.bitrate_kbps:.0f} kbit/s, {event.frames_decoded} frames, {event.freezes} freezes,"
            f" loss {event.loss_percent:.1f} %{', encrypted' if event.encrypted else ''}{sync}{sending}"
        )
    if isinstance(event, NetworkChangeEvent):
        moving = f"; moving {', '.join(event.calls)}" if event.calls else ""
        return f"network change for {event.account}: {event.reason}; registered again{moving}"
    if isinstance(event, MediaPathEvent):
        whose = "media" if event.stream == "audio" else event.stream
        return f"{whose} of {event.call_id} takes the {event.path} path: {event.local} -> {event.remote}"
    if isinstance(event, MediaWarningEvent):
        state = "" if event.active else " (cleared)"
        return f"media warning on {event.call_id}: {event.warning.replace('_', ' ')}: {event.message}{state}"
    if isinstance(event, ConferenceEvent):
        state = "conference" if event.active else "conference ended"
        return f"{state}: {', '.join(event.call_ids)}"
    if isinstance(event, RecordingEvent):
        if event.active:
            return f"recording {event.call_id} to {event.path}"
        failed = f" (incomplete: {event.error})" if event.error else ""
        return f"recording of {event.call_id} saved: {event.path}, {event.seconds:.1f} s{failed}"
    if isinstance(event, SubscriptionEvent):
        why = f" ({event.code} {event.reason})" if event.code else (f" ({event.reason})" if event.reason else "")
        return f"subscription to {event.event} of {event.uri}: {event.state}{why}"
    if isinstance(event, PresenceEvent):
        extra = "".join(f", {part}" for part in (event.activity, event.note) if part)
        return f"presence of {event.uri}: {event.basic}{extra}"
    if isinstance(event, WatcherEvent):
        return f"watcher {event.uri}: {event.state}" + ("" if event.verified else " (identity not verified)")
    if isinstance(event, MessageEvent):
        if event.from_stranger:
            return f"message request from {event.sender} (not a verified contact): {event.text}"
        return f"message from {event.sender}: {event.text}"
    if isinstance(event, MessageStatusEvent):
        why = f" ({event.code} {event.reason})" if event.code else (f" ({event.reason})" if event.reason else "")
        return f"message {event.message_id} to {event.to}: {event.status}{why}"
    if isinstance(event, ComposingEvent):
        return f"{event.uri} is {'typing' if event.active else 'not typing'}"
    if isinstance(event, MwiEvent):
        where = f" (voicemail {event.voicemail_uri})" if event.voicemail_uri else ""
        return f"messages waiting for {event.account}: {event.new} new, {event.old} old{where}"
    if isinstance(event, DialogStateEvent):
        return f"busy lamp of {event.uri}: {event.state}"
    if isinstance(event, PageStartedEvent | PageEndedEvent):
        return cli_paging.describe(event)
    if isinstance(event, LanPeerEvent):
        if event.state == "down":
            return f"LAN peer {event.name} left"
        calls = "" if event.accepts_calls else " (takes no direct calls)"
        return f"LAN peer {event.name}: {event.uri}{calls}"
    if isinstance(event, LanAnnounceEvent):
        if event.state == "failed":
            return f"cannot announce {event.account} on the LAN: {event.reason}"
        if event.state == "withdrawn":
            return f"{event.account} is no longer announced on the LAN"
        renamed = f" ({event.requested!r} was taken)" if event.name != event.requested else ""
        return f"{event.account} announced on the LAN as {event.name!r}{renamed}"
    if isinstance(event, CallbackReadyEvent):
        return f"{event.uri} is free now" + (f": calling again ({event.call_id})" if event.redialled else "")
    return f"error: {event.message}"
