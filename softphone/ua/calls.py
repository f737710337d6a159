"""The calls of a user agent: the driver that feeds each call machine and carries out its effects.

Everything about a call's protocol is in :mod:`softphone.ua.call_machine`;
this module routes requests, responses, commands and timers to the right
machine, and turns its effects into transactions, loop timers, media
sessions, events and call-history records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription
from softphone.media.events import EncryptionFailed, EncryptionReady
from softphone.sip.addr import NameAddr, parse_name_addr_list
from softphone.sip.dialog import Dialog, dialog_id_for_request, new_tag
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import (
    LocalResponse,
    ServerInviteTransaction,
    ServerTransaction,
    State,
    make_response,
)
from softphone.sip.uri import SipUri
from softphone.store import CallOutcome, CallRecord, StoreError
from softphone.store.messages import Direction
from softphone.transport import Source, Target, TransportError
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.call_effects import (
    CallConfig,
    CallEffect,
    CallTimer,
    Completed,
    Emit,
    Ended,
    LocalParty,
    PlaceCall,
    SendAck,
    SendRequest,
    SendResponse,
    StartMedia,
    StartTimer,
    StopMedia,
    StopTimer,
    UpdateMedia,
)
from softphone.ua.call_machine import CallMachine
from softphone.ua.call_media import CallMedia
from softphone.ua.call_security import DtlsIdentities, secure_hop, srtp_config
from softphone.ua.call_transfer import DTMF_DIGITS, DTMF_RELAY, escape_header, refer_notify, referred_headers
from softphone.ua.errors import UserAgentError
from softphone.ua.events import CallEvent, TransferEvent
from softphone.ua.media import MediaPort
from softphone.ua.nat import MediaAddress, media_address
from softphone.ua.trust import Address, dialog_addresses, from_addresses

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent

__all__ = ["CallManager", "call_outcome"]

log = logging.getLogger("softphone.ua")


class CallManager:
    """Creates the calls of ``ua``, routes what concerns them to their machines and carries out the effects."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self._calls: dict[str, Call] = {}
        # (Call-ID, our tag) -> call, kept 64*T1 after the end for retransmissions and late requests.
        self._by_key: dict[tuple[str, str], Call] = {}
        self._ids = itertools.count(1)
        self._ops = itertools.count(1)
        self._waiting: dict[int, tuple[Call, asyncio.Future[Completed]]] = {}
        # Calls put in the history when their end was announced (the end itself comes right after).
        self._recorded: set[str] = set()
        # Incoming INVITEs whose media address the STUN server is being asked for, by their transaction.
        self._learning: dict[ServerTransaction, asyncio.Task[None]] = {}
        # This installation's DTLS certificate, beside its database; without a store, one for this process.
        self.dtls = DtlsIdentities.beside(ua.store.path if ua.store is not None else None)
        self.media = CallMedia(
            lambda: ua.media,
            lambda: ua.stack.loop,
            ua.emit,
            ua.stack.spawn,
            self._remote_bye,
            self._encryption,
            video=lambda: ua.video,
        )
        self.media.identity = lambda: self.dtls.get()

    # --- configuration shared by the machines ------------------------------------------------

    def config(self) -> CallConfig:
        ua = self.ua
        timers = ua.stack.timers
        return CallConfig(
            audio=ua.audio,
            video=ua.video.sdp() if ua.video is not None and ua.media is not None else None,
            session_expires=ua.session_expires,
            min_se=ua.min_se,
            rel100=ua.rel100,
            early_media=ua.early_media,
            user_agent=ua.user_agent,
            allow=ua.allow,
            t1=timers.T1,
            t2=timers.T2,
        )

    def _machine(
        self,
        account: Account,
        direction: str,
        call_id: str,
        remote: NameAddr,
        media_port: MediaPort,
        *,
        secure_signalling: bool,
        address: MediaAddress | None = None,
        video_port: MediaPort | None = None,
        video_address: MediaAddress | None = None,
    ) -> CallMachine:
        ua = self.ua
        config = self.config()
        sips = direction == "outgoing" and isinstance(remote.uri, SipUri) and remote.uri.scheme == "sips"
        policy = account.srtp_policy
        fingerprint = self.dtls.fingerprint() if policy != "off" and account.srtp_keys != "sdes" else None
        srtp = srtp_config(account, secure_signalling=secure_signalling, fingerprint=fingerprint)
        # Behind a NAT only the RTP port's mapping is known: offer RTCP on it too (RFC 5761).
        mux = config.audio.rtcp_mux or (address is not None and address.reflexive)
        ice = None
        if address is not None and address.candidates:
            credentials = Credentials.new()
            ice = IceDescription(credentials.ufrag, credentials.pwd, address.candidates)
        audio = dataclasses.replace(config.audio, srtp=srtp, rtcp_mux=mux, ice=ice)
        config = dataclasses.replace(config, audio=audio)
        if config.video is not None and video_address is not None and video_address.candidates and ice is not None:
            # The video's own credentials (RFC 8839 5.4): its checks are told apart from the audio's.
            video_credentials = Credentials.new()
            video_ice = IceDescription(video_credentials.ufrag, video_credentials.pwd, video_address.candidates)
            config = dataclasses.replace(config, video=dataclasses.replace(config.video, ice=video_ice))
        local = LocalParty(
            uri=account.uri,
            display_name=account.display_name,
            outbound_proxy=account.outbound_proxy_uri,
            digest=ua.digest(account),
            photo_url=account.photo_url,
        )
        return CallMachine(
            id=f"c{next(self._ids)}",
            call_id=call_id,
            local_tag=new_tag(),
            direction="outgoing" if direction == "outgoing" else "incoming",
            local=local,
            remote=remote,
            config=config,
            media_host=media_port.host if address is None else address.host,
            media_port=media_port.port if address is None else address.port,
            contact_for=lambda target: ua.contact_for(account, target, secure=sips),
            video_port=0 if video_port is None else video_port.port if video_address is None else video_address.port,
            video_host=video_address.host if video_port is not None and video_address is not None else None,
        )

    def _video_port(self, media_port: MediaPort) -> MediaPort | None:
        """A port for the call's video, beside the audio's, when video is on."""
        if self.ua.video is None or self.ua.media is None:
            return None
        try:
            return MediaPort(media_port.host)
        except (TransportError, OSError) as exc:
            log.warning("no video port: %s", exc)
            return None

    @staticmethod
    async def _addresses(
        account: Account, media_port: MediaPort, video_port: MediaPort | None
    ) -> tuple[MediaAddress, MediaAddress | None]:
        """What the SDP names for the audio port and the video port: each learns its own NAT mapping, relay
        (RFC 8656: one allocation per 5-tuple) and candidates, side by side."""
        if video_port is None:
            return await media_address(account, media_port), None
        audio, video = await asyncio.gather(media_address(account, media_port), media_address(account, video_port))
        return audio, video

    # --- looking calls up -------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return [c for c in self._calls.values() if not c.ended]

    def find(self, call_id: str | None = None) -> Call:
        """A call by short id or SIP Call-ID; without one, the only or most recent call."""
        calls = self.calls
        if call_id is None:
            if not calls:
                raise UserAgentError("no call")
            return calls[-1]
        call = self._calls.get(call_id)
        if call is None:
            call = next((c for c in calls if c.sip_call_id == call_id), None)
        if call is None or call.ended:
            raise UserAgentError(f"no call {call_id}")
        return call

    def by_dialog(self, call_id: str, local_tag: str) -> Call | None:
        return self._by_key.get((call_id, local_tag))

    def ringing(self, call_id: str | None) -> Call:
        if call_id is None:
            ringing = [c for c in self.calls if c.ringing]
            if not ringing:
                raise UserAgentError("no ringing call")
            return ringing[-1]
        call = self.find(call_id)
        if not call.ringing:
            raise UserAgentError(f"call {call.id} is not ringing")
        return call

    # --- outgoing ---------------------------------------------------------------------------

    async def dial(
        self, uri: str, account: Account, headers: Sequence[tuple[str, str]] = (), *, video: bool = True
    ) -> Call:
        ua = self.ua
        target_uri = ua.target_uri(uri, account)
        hop = ua.first_hop(account, target_uri)
        try:
            targets = await ua.resolve(hop, account)
        except TransportError as exc:
            raise UserAgentError(f"cannot reach {hop}: {exc}") from exc
        media_port = self._media_port(targets[0])
        if media_port is None:
            raise UserAgentError("no local media port: the system is out of resources")
        video_port = self._video_port(media_port)
        try:
            address, video_address = await self._addresses(account, media_port, video_port)
        except BaseException:
            if video_port is not None:
                video_port.close()
            raise
        call_id = f"{secrets.token_hex(12)}@softphone"
        secure = secure_hop(targets[0], target_uri if isinstance(target_uri, SipUri) else None)
        machine = self._machine(
            account,
            "outgoing",
            call_id,
            NameAddr(uri=target_uri),
            media_port,
            secure_signalling=secure,
            address=address,
            video_port=video_port,
            video_address=video_address,
        )
        call = Call(
            machine, account, media_port, reflexive=address.reflexive, relayed=address.relayed, video_port=video_port
        )
        self._add(call)
        self._warn_addresses(call, address, video_address)
        machine.video_declined = not video
        self.run(call, call.machine.dial(targets, headers))
        return call

    def _warn_addresses(self, call: Call, address: MediaAddress | None, video: MediaAddress | None) -> None:
        """What did not work while learning the addresses: the audio's warning, else the video's (one server,
        one warning)."""
        for learned in (address, video):
            if learned is not None and learned.warning is not None:
                self.media.warning(call, learned.warning_kind, learned.warning)
                return

    def _media_port(self, target: Target) -> MediaPort | None:
        try:
            return MediaPort(self.ua.media_host_for(target))
        except (TransportError, OSError) as exc:
            log.warning("no media port: %s", exc)
            return None

    def _add(self, call: Call) -> None:
        self._calls[call.id] = call
        self._by_key[(call.sip_call_id, call.local_tag)] = call

    # --- incoming ---------------------------------------------------------------------------

    def incoming(self, request: Request, tx: ServerInviteTransaction, source: Source, account: Account) -> None:
        """A new INVITE for ``account``: forward, refuse as busy, replace a call, or ring."""
        ua = self.ua
        stack = ua.stack
        forwarding = account.forwarding
        if forwarding is not None and forwarding.always:
            self._forward(tx, forwarding.target, account)
            return
        if ua.busy or account.busy:
            if forwarding is not None and forwarding.busy:
                self._forward(tx, forwarding.target, account)
            else:
                stack.reply(tx, 486)
            return
        limits = ua.limits
        calls = self.calls
        if len(calls) >= limits.max_calls:
            stack.reply(tx, 486, "Too Many Calls")
            return
        ringing = [call for call in calls if call.ringing]
        # Incoming calls still asking the STUN server for their media address count as ringing.
        if len(ringing) + len(self._learning) >= limits.max_ringing or (
            sum(1 for call in ringing if call.peer_source and call.peer_source[0] == source.remote_host)
            >= limits.max_ringing_per_source
        ):
            stack.reply(tx, 486, "Too Many Ringing Calls")
            return
        if request.replaces is not None:
            self._replaces(request, tx, source, account)
            return
        if account.stun_server is not None or account.turn_server is not None or account.ice_enabled:
            task = ua.stack.spawn(self._ring_behind_nat(request, tx, source, account), name="stun")
            self._learning[tx] = task
            task.add_done_callback(lambda _: self._learning.pop(tx, None))
            return
        self._ring(request, tx, source, account)

    async def _ring_behind_nat(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> None:
        """Learn the media port's public address before the SDP answer can name it, then ring."""
        media_port = self._media_port(source.target)
        if media_port is None:
            self.ua.stack.reply(tx, 503, headers=[("Retry-After", "5")])
            return
        video_port = self._video_port(media_port)
        try:
            address, video_address = await self._addresses(account, media_port, video_port)
        except BaseException:
            media_port.close()
            if video_port is not None:
                video_port.close()
            raise
        if tx.state is State.TERMINATED:
            media_port.close()
            if video_port is not None:
                video_port.close()
            return
        self._ring(request, tx, source, account, media_port, address, video_port, video_address)

    def _ring(
        self,
        request: Request,
        tx: ServerTransaction,
        source: Source,
        account: Account,
        media_port: MediaPort | None = None,
        address: MediaAddress | None = None,
        video_port: MediaPort | None = None,
        video_address: MediaAddress | None = None,
    ) -> Call | None:
        ua = self.ua
        try:
            contact = ua.contact_for(account, source.target, secure=_sips(request))
        except TransportError as exc:
            log.info("cannot take a call: %s", exc)
            ua.stack.reply(tx, 500)
            for port in (media_port, video_port):
                if port is not None:
                    port.close()
            return None
        media_port = media_port or self._media_port(source.target)
        if media_port is None:
            # Out of sockets: the caller may try again once resources free up.
            ua.stack.reply(tx, 503, headers=[("Retry-After", "5")])
            return None
        remote = request.from_
        if video_port is None and address is None:
            video_port = self._video_port(media_port)
        machine = self._machine(
            account,
            "incoming",
            request.call_id,
            NameAddr(uri=remote.uri, display_name=remote.display_name),
            media_port,
            secure_signalling=secure_hop(source.target),
            address=address,
            video_port=video_port,
            video_address=video_address,
        )
        call = Call(
            machine,
            account,
            media_port,
            peer_source=(source.remote_host, source.remote_port),
            reflexive=address is not None and address.reflexive,
            relayed=address is not None and address.relayed,
            video_port=video_port,
        )
        forward = None
        forwarding = account.forwarding
        if forwarding is not None and forwarding.no_answer is not None:
            try:
                forward = (forwarding.no_answer, str(ua.target_uri(forwarding.target, account)))
            except UserAgentError as exc:
                log.info("forwarding of %s ignored: %s", account.aor, exc)
        self._add(call)
        self._warn_addresses(call, address, video_address)
        self.run(
            call,
            machine.incoming(
                request,
                tx,
                contact,
                auto_answer=account.auto_answer,
                forward=forward,
                ring_timeout=ua.limits.ring_timeout,
            ),
        )
        return call if not call.ended else None

    def _forward(self, tx: ServerTransaction, target: str, account: Account) -> None:
        try:
            uri = self.ua.target_uri(target, account)
        except UserAgentError:
            self.ua.stack.reply(tx, 480)
            return
        self.ua.stack.reply(tx, 302, to_tag=new_tag(), headers=[("Contact", f"<{uri}>")])

    def _replaces(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> None:
        """RFC 3891 3: take the new call answered at once, then end the one it replaces."""
        replaces = request.replaces
        assert replaces is not None
        old = self._by_key.get((replaces.call_id, replaces.to_tag))
        if (
            old is None
            or old.ended
            or old.dialog is None
            or old.dialog.remote_tag != replaces.from_tag
            or (replaces.early_only and old.confirmed)
        ):
            self.ua.stack.reply(tx, 481)
            return
        request.headers.remove("Replaces")
        new = self._ring(request, tx, source, account)
        if new is None:
            return
        old.replaced_by = new
        self.run(new, new.machine.answer())
        self.run(old, old.machine.hangup("transferred"))

    def cancel(self, request: Request, tx: ServerTransaction, source: Source) -> None:
        """RFC 3261 9.2: a CANCEL; its INVITE's call (if still ringing) ends with 487.

        Only the sender of the INVITE may cancel it: a CANCEL from elsewhere gets 481.
        """
        stack = self.ua.stack
        invite_tx = stack.transactions.find_cancelled(request)
        invite_source = invite_tx.destination if invite_tx is not None else None
        if invite_tx is None or not (
            isinstance(invite_source, Source)
            and from_addresses(source, [(invite_source.remote_host, invite_source.remote_port)])
        ):
            stack.reply(tx, 481)
            return
        call = next((c for c in self._calls.values() if c.machine.uas.tx is invite_tx), None)
        if call is None:
            stack.reply(tx, 200)
            learning = self._learning.pop(invite_tx, None) if isinstance(invite_tx, ServerTransaction) else None
            if learning is not None:
                # Cancelled while its media address was being learned: it never rang (RFC 3261 9.2).
                learning.cancel()
                stack.reply(invite_tx, 487)
            return
        self.run(call, call.machine.receive_cancel(tx))

    def refer_out_of_dialog(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> None:
        """RFC 3515 2.4: a REFER outside any dialog asks us to call someone (click-to-dial from a server).

        Whom we take it from is :attr:`UserAgent.out_of_dialog_refer`: ``server`` (the default) only
        through the account's own registrar or proxy flow, ``anyone`` or ``never``.
        """
        ua = self.ua
        if not self._refer_allowed(source, account):
            ua.stack.reply(tx, 403, "Out-of-dialog REFER not accepted")
            return
        try:
            refer_to = request.refer_to
        except SipParseError:
            refer_to = None
        if refer_to is None or not isinstance(refer_to.uri, SipUri):
            ua.stack.reply(tx, 400, "Missing or unusable Refer-To")
            return
        try:
            contact = ua.contact_for(account, source.target, secure=_sips(request))
            dialog = Dialog.from_uas(request, new_tag(), contact)
        except (TransportError, SipParseError) as exc:
            log.info("cannot take a REFER from %s: %s", source, exc)
            ua.stack.reply(tx, 400, "Missing Contact")
            return
        ua.stack.reply(tx, 202, to_tag=dialog.local_tag, headers=[("Contact", str(contact))])
        ua.keep_dialog(dialog)
        uri = refer_to.uri
        headers = referred_headers(uri, request.headers.get("Referred-By"))
        ua.stack.spawn(self._referred_call(dialog, account, uri.replace(headers=[]), headers), name="REFER")

    def _refer_allowed(self, source: Source, account: Account) -> bool:
        policy = self.ua.out_of_dialog_refer
        if policy != "server":
            return policy == "anyone"
        target = self.ua.registration_target(account.aor)
        return target is not None and (target.host, target.port) == (source.remote_host, source.remote_port)

    async def _referred_call(
        self, dialog: Dialog, account: Account, target: SipUri, headers: tuple[tuple[str, str], ...]
    ) -> None:
        await self._refer_notify(dialog, account, "100 Trying", active=True)
        try:
            new_call = await self.dial(str(target), account, headers)
        except UserAgentError as exc:
            log.info("REFER to %s failed: %s", target, exc)
            await self._refer_notify(dialog, account, "503 Service Unavailable", active=False)
            self.ua.forget_dialog(dialog)
            return
        new_call.refer_dialog = dialog
        self.ua.emit(TransferEvent(new_call.id, "requested", None, str(target)))

    async def _refer_notify(self, dialog: Dialog, account: Account, status: str, *, active: bool) -> None:
        headers, body, content_type = refer_notify(status, active=active)
        try:
            await self.ua.request_in_dialog(
                account, dialog, "NOTIFY", headers=headers, body=body, content_type=content_type
            )
        except UserAgentError as exc:
            log.info("NOTIFY for a REFER not sent: %s", exc)

    def in_dialog(self, request: Request, tx: ServerTransaction, source: Source) -> bool:
        """A request with our tag in To: True when it belongs to a call (which answers it).

        It must come from the call's peer (see :mod:`softphone.ua.trust`); from anyone else it
        gets 481, as if the dialog did not exist, and changes nothing.
        """
        call = self._by_key.get((request.call_id, request.to.tag or ""))
        if call is None:
            return False
        if not self._from_peer(call, source):
            self.ua.router.dropped.note(f"{request.method}s in a call from a stranger refused", str(source))
            self.ua.stack.reply(tx, 481)
            return True
        self.run(call, call.machine.receive_request(request, tx))
        return True

    def ack(self, request: Request, source: Source) -> None:
        dialog_id = dialog_id_for_request(request)
        if dialog_id is None:
            return
        call = self._by_key.get((dialog_id.call_id, dialog_id.local_tag))
        if call is not None and self._from_peer(call, source):
            self.run(call, call.machine.receive_request(request, None))

    def _from_peer(self, call: Call, source: Source) -> bool:
        if self.ua.from_server(source, call.account):
            return True
        allowed: set[Address] = set()
        machine = call.machine
        for dialog in (machine.dialog, *machine.uac.all_dialogs()):
            if dialog is not None:
                allowed |= dialog_addresses(dialog)
        if call.peer_source is not None:
            allowed.add(call.peer_source)
        return from_addresses(source, allowed)

    def stray_response(self, response: Response) -> None:
        """A 2xx to an INVITE retransmitted after its transaction ended: the call ACKs it again."""
        if not (200 <= response.status_code < 300) or response.cseq.method != "INVITE":
            return
        call = self._by_key.get((response.call_id, response.from_.tag or ""))
        if call is not None:
            self.run(call, call.machine.receive_stray_response(response))

    # --- commands -------------------------------------------------------------------------------

    async def _command(self, call: Call, start: Callable[[int], list[CallEffect]]) -> Completed:
        op = next(self._ops)
        future: asyncio.Future[Completed] = self.ua.stack.loop.create_future()
        self._waiting[op] = (call, future)
        self.run(call, start(op))
        try:
            return await future
        finally:
            self._waiting.pop(op, None)

    async def hold(self, call: Call, hold: bool) -> None:
        done = await self._command(call, lambda op: call.machine.hold(op, hold))
        if done.error is not None:
            raise UserAgentError(done.error)

    async def set_video(self, call: Call, on: bool) -> None:
        """Add a video stream to the call, or drop it, by re-INVITE."""

        def change(op: int) -> list[CallEffect]:
            return call.machine.set_video(op, on)

        done = await self._command(call, change)
        if done.error is not None:
            raise UserAgentError(done.error)

    async def set_video_send(self, call: Call, send: bool) -> None:
        """Camera on or off: our video sends or only receives, by re-INVITE."""

        def change(op: int) -> list[CallEffect]:
            return call.machine.set_video_send(op, send)

        done = await self._command(call, change)
        if done.error is not None:
            raise UserAgentError(done.error)

    async def move(
        self,
        call: Call,
        host: str,
        port: int,
        ice: IceDescription | None,
        contact: NameAddr | None,
        video: tuple[str, int, IceDescription | None] | None = None,
    ) -> None:
        """Re-INVITE with our media at ``host``:``port`` (an ICE restart with ``ice``), our video at ``video``:
        our network changed."""
        done = await self._command(call, lambda op: call.machine.move(op, host, port, ice, contact, video))
        if done.error is not None:
            raise UserAgentError(done.error)

    async def rekey(self, call: Call) -> None:
        """New SRTP keys for the call by re-INVITE (SDES; a DTLS call keeps its association)."""
        done = await self._command(call, call.machine.rekey)
        if done.error is not None:
            raise UserAgentError(done.error)

    async def send_dtmf(self, call: Call, digits: str) -> None:
        if not call.confirmed or call.dialog is None:
            raise UserAgentError(f"call {call.id} is not established")
        if not digits or any(d not in DTMF_DIGITS for d in digits):
            raise UserAgentError(f"not DTMF digits: {digits!r}")
        session = call.media_session
        if session is not None and call.media is not None and call.media.telephone_event is not None:
            try:
                session.send_dtmf(digits)
            except Exception as exc:
                raise UserAgentError(f"cannot send DTMF {digits!r}: {exc}") from exc
            return
        for digit in digits:
            body = f"Signal={digit.upper()}\r\nDuration=160\r\n".encode()

            def send(op: int, body: bytes = body) -> list[CallEffect]:
                return call.machine.send_info(op, body, DTMF_RELAY)

            done = await self._command(call, send)
            if done.error is not None:
                raise UserAgentError(f"DTMF {digit} was {done.error}")

    async def transfer(self, call: Call, target: str) -> None:
        if not call.confirmed:
            raise UserAgentError(f"call {call.id} is not established")
        uri = self.ua.target_uri(target, call.account)
        await self._command(call, lambda op: call.machine.refer(op, f"<{uri}>", str(uri)))

    async def attended_transfer(self, call: Call, other: Call) -> None:
        if not call.confirmed or not other.confirmed or other.dialog is None:
            raise UserAgentError("both calls must be established")
        dialog = other.dialog
        replaces = f"{dialog.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"
        uri = dialog.remote_target if isinstance(dialog.remote_target, SipUri) else other.remote.uri
        if isinstance(uri, SipUri):
            uri = uri.replace(params={}, headers=[("Replaces", escape_header(replaces))])
        shown = str(other.remote.uri)
        await self._command(call, lambda op: call.machine.refer(op, f"<{uri}>", shown))

    async def hangup_all(self) -> None:
        for call in list(self._calls.values()):
            if not call.ended:
                self.run(call, call.machine.hangup())

    def abandon_all(self) -> None:
        for call in list(self._calls.values()):
            self.run(call, call.machine.stop())

    async def record(self, call: Call, path: str | Path) -> Path:
        return await self.media.record(call, path)

    # --- effects ----------------------------------------------------------------------------

    def run(self, call: Call, effects: list[CallEffect]) -> None:
        """Carry out a machine's effects, in order."""
        for effect in effects:
            try:
                self._apply(call, effect)
            except Exception:
                log.exception("call %s: carrying out %s failed", call.id, type(effect).__name__)

    def _apply(self, call: Call, effect: CallEffect) -> None:
        ua = self.ua
        stack = ua.stack
        if isinstance(effect, SendRequest):
            self._send(call, effect.request, effect.target)
        elif isinstance(effect, SendResponse):
            stack.respond(effect.transaction, effect.response)
        elif isinstance(effect, SendAck):
            stack.spawn(self._send_ack(call, effect.ack), name=f"ACK {call.id}")
        elif isinstance(effect, Emit):
            self._emit(call, effect)
        elif isinstance(effect, StartMedia | UpdateMedia):
            self.media.apply(call, effect)
        elif isinstance(effect, StopMedia):
            self.media.stop(call)
            call.media_port.close()
            if call.video_port is not None:
                call.video_port.close()
        elif isinstance(effect, StartTimer):
            old = call.timers.pop(effect.timer, None)
            if old is not None:
                old.cancel()
            call.timers[effect.timer] = stack.loop.call_later(effect.delay, self._fire, call, effect.timer)
        elif isinstance(effect, StopTimer):
            handle = call.timers.pop(effect.timer, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(effect, Completed):
            waiting = self._waiting.get(effect.op)
            if waiting is not None and not waiting[1].done():
                waiting[1].set_result(effect)
        elif isinstance(effect, PlaceCall):
            stack.spawn(self._place_transfer(call, effect), name=f"transfer of {call.id}")
        elif isinstance(effect, Ended):
            self._ended(call)

    def _fire(self, call: Call, timer: CallTimer) -> None:
        call.timers.pop(timer, None)
        self.run(call, call.machine.timer_fired(timer))

    def _send(self, call: Call, request: Request, target: Target | None) -> None:
        def handler(response: Response) -> None:
            self.run(call, call.machine.receive_response(request, response))

        if target is not None:
            self.ua.stack.send_request(request, target, handler)
            return

        async def send_in_dialog() -> None:
            hop = await self.ua.hop_target(request, call.account)
            if hop is None:
                handler(_local(request, 503, "Service Unavailable"))
                return
            self.ua.stack.send_request(request, hop, handler)

        self.ua.stack.spawn(send_in_dialog(), name=f"{request.method} {call.id}")

    async def _send_ack(self, call: Call, ack: Request) -> None:
        hop = await self.ua.hop_target(ack, call.account)
        if hop is not None:
            self.ua.stack.send_stateless(ack, hop)

    def _emit(self, call: Call, effect: Emit) -> None:
        event = effect.event
        if isinstance(event, CallEvent) and event.state in ("confirmed", "held"):
            if call.answered_at is None:
                call.answered_at = time.time()
            if call.transfer_from is not None or call.refer_dialog is not None:
                self._transfer_outcome(call)
        if isinstance(event, CallEvent) and event.state == "ended":
            # In the history before anyone hears of the end: a GUI that reloads its history on this
            # event must find the call there.
            self._record_history(call)
            self._recorded.add(call.id)
        self.ua.emit(event)

    def _ended(self, call: Call) -> None:
        call.cancel_timers()
        self._calls.pop(call.id, None)
        for op, (owner, future) in list(self._waiting.items()):
            if owner is call and not future.done():
                future.set_result(Completed(op, f"call {call.id} has ended"))
        if call.id in self._recorded:
            self._recorded.discard(call.id)
        elif call.machine.public is not None:
            self._record_history(call)
        # Keep the Call-ID/tag mapping a while for retransmitted 2xx and late in-dialog requests (64*T1).
        key = (call.sip_call_id, call.local_tag)
        self.ua.stack.loop.call_later(64 * self.ua.stack.timers.T1, self._forget, key, call)
        if call.transfer_from is not None or call.refer_dialog is not None:
            self._transfer_outcome(call)

    def _forget(self, key: tuple[str, str], call: Call) -> None:
        if self._by_key.get(key) is call:
            del self._by_key[key]

    def _encryption(self, call: Call, event: EncryptionReady | EncryptionFailed) -> None:
        if call.ended:
            return
        if isinstance(event, EncryptionReady):
            self.run(call, call.machine.media_encrypted(event.key_exchange, event.suite, event.verified))
        else:
            self.run(call, call.machine.media_encryption_failed(event.reason))

    def _remote_bye(self, call: Call) -> None:
        if not call.ended:
            self.run(call, call.machine.remote_media_ended())

    # --- transfer as the transferee ---------------------------------------------------------

    async def _place_transfer(self, original: Call, place: PlaceCall) -> None:
        try:
            new_call = await self.dial(str(place.uri), original.account, headers=place.headers)
        except UserAgentError as exc:
            log.info("transfer of %s failed: %s", original.id, exc)
            self.run(original, original.machine.transfer_outcome(False, 503, "Service Unavailable", None))
            return
        new_call.transfer_from = original
        self.ua.emit(TransferEvent(original.id, "calling", None, str(place.uri)))

    def _transfer_outcome(self, new_call: Call) -> None:
        dialog = new_call.refer_dialog
        if dialog is not None:
            new_call.refer_dialog = None
            status = "200 OK" if new_call.confirmed else f"{new_call.code or 500} {new_call.reason or 'Failed'}"
            self.ua.stack.spawn(self._refer_done(dialog, new_call, status), name="REFER done")
        original = new_call.transfer_from
        if original is None:
            return
        new_call.transfer_from = None
        if original.ended:
            return
        succeeded = new_call.confirmed
        self.run(
            original,
            original.machine.transfer_outcome(succeeded, new_call.code, new_call.reason, str(new_call.remote.uri)),
        )

    async def _refer_done(self, dialog: Dialog, new_call: Call, status: str) -> None:
        await self._refer_notify(dialog, new_call.account, status, active=False)
        self.ua.forget_dialog(dialog)
        state = "succeeded" if new_call.confirmed else "failed"
        self.ua.emit(
            TransferEvent(new_call.id, state, 200 if new_call.confirmed else new_call.code, str(new_call.remote.uri))
        )

    # --- the call history -----------------------------------------------------------------------

    def _record_history(self, call: Call) -> None:
        store = self.ua.store
        if store is None:
            return
        record = CallRecord(
            account=call.account.aor,
            direction=Direction.IN if call.direction == "incoming" else Direction.OUT,
            peer=str(call.remote.uri),
            peer_name=call.remote.display_name,
            started=call.started_at,
            answered=call.answered_at,
            ended=time.time(),
            outcome=call_outcome(call),
            sip_code=call.code,
            reason=call.reason or None,
            call_id=call.sip_call_id,
            quality=call.quality.summary(),
            **_encryption_record(call),
        )
        try:
            store.history.add_call(record)
        except StoreError as exc:
            log.warning("call %s not kept in the history: %s", call.id, exc)


def _encryption_record(call: Call) -> dict[str, Any]:
    """What the history keeps of an answered call's encryption (nothing for a call that never had media)."""
    encryption = call.machine.encryption
    if encryption is None or call.answered_at is None:
        return {}
    return {"encrypted": encryption.encrypted, "encryption": encryption.describe()}


def call_outcome(call: Call) -> CallOutcome:
    """How an ended call went, for the call history."""
    code = call.code
    if call.answered_at is not None:
        return CallOutcome.ANSWERED
    if code in (486, 600):
        return CallOutcome.BUSY
    if code in (301, 302):
        return CallOutcome.FORWARDED
    if call.direction == "incoming":
        # 487: the caller gave up (CANCEL) before we answered; 480: nobody answered here.
        return CallOutcome.MISSED if code in (None, 487, 408, 480) else CallOutcome.DECLINED
    if code == 603:
        return CallOutcome.DECLINED
    if call.machine.cancelled or code == 487:
        return CallOutcome.CANCELLED
    return CallOutcome.FAILED


def _local(request: Request, code: int, reason: str) -> LocalResponse:
    response = make_response(request, code, reason)
    return LocalResponse(code, reason, response.headers)


def _sips(request: Request) -> bool:
    """RFC 3261 12.1.1: the dialog's Contact is sips: when the request's URI is, or its top Record-Route
    (its Contact, when it has no Record-Route)."""
    if isinstance(request.uri, SipUri) and request.uri.scheme == "sips":
        return True
    routes = request.headers.get_all("Record-Route")
    try:
        first = parse_name_addr_list(routes[0] if routes else (request.headers.get("Contact") or ""))[:1]
    except SipParseError:
        return False
    return bool(first) and isinstance(first[0].uri, SipUri) and first[0].uri.scheme == "sips"
