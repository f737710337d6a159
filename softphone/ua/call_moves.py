"""Moving a call to where the network put us: after a network change, a re-INVITE with our new address.

When the registration finds that its flow moved (our local address changed,
or the registrar sees us at another public address), each established call
of that account moves: when our own address changed, its media gets a new
port on the new address (the old socket is bound to an address that is
gone; the media thread swaps sockets between two packets); then it learns the media port's new public address from the
account's STUN server (asked by the call's media thread, which owns the
socket) and sends a re-INVITE naming it. A call with ICE restarts it (RFC
8445 9: new ufrag and password, the new host and server-reflexive
candidates); the dialog's Contact moves with the registration's. A call
through a TURN relay (over UDP) gets a new allocation from where it is now
(the old one belongs to the old 5-tuple, RFC 8656 2.2) and offers it. A STUN
or TURN server that does not answer costs a warning, and the re-INVITE
names what still works. A call with video gets a new video port on our
address as it is now, which learns its own public address, relay and
candidates as a new call's does (:func:`~softphone.ua.nat.media_address`);
the re-INVITE offers it with its own ICE restart, and the video session
starts again there once the answer comes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription, local_candidates
from softphone.media.errors import MediaError
from softphone.media.gather import ReflexiveQueryError
from softphone.stun.turn import TurnClient, TurnError
from softphone.transport import Target
from softphone.transport.errors import TransportError
from softphone.transport.stun import StunError, resolve_server
from softphone.transport.turn import RelayedSocket
from softphone.ua.errors import UserAgentError
from softphone.ua.media import MediaPort
from softphone.ua.nat import media_address

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent
    from softphone.ua.call import Call

__all__ = ["move_call"]

TURN_PORT = 3478
# A bound on the new allocation: two of the set-up schedules (3.5 s), with room for a loaded machine.
REALLOCATE_TIMEOUT = 10.0

log = logging.getLogger("softphone.ua")


async def move_call(ua: UserAgent, call: Call) -> None:
    """Re-INVITE ``call`` with our media's address as seen now, restarting ICE when the call has it."""
    account = call.account
    target = ua.registration_target(account.aor)
    relay = call.relayed and account.turn_server is not None and account.turn_transport == "udp"
    if target is not None:
        await _rebind(ua, call, target, relay)
    host = (call.media_port.host, call.media_port.port)
    relayed, allocate_mapped = await _reallocate(ua, call) if relay else (None, None)
    mapped = await _mapped(ua, call, host) or (allocate_mapped if allocate_mapped != host else None)
    ice = None
    if call.machine.config.audio.ice is not None:
        credentials = Credentials.new()
        ice = IceDescription(credentials.ufrag, credentials.pwd, local_candidates(host, mapped, relayed))
    # The SDP's default: the relay when there is one, else the reflexive address, else the host one.
    address = relayed or mapped or host
    try:
        contact = ua.contact_for(account, target) if target is not None else None
    except TransportError:
        contact = None
    video = await _move_video(ua, call)
    try:
        await ua.call_manager.move(call, address[0], address[1], ice, contact, video)
    except UserAgentError as exc:
        log.info("call %s stays where it was after the network change: %s", call.id, exc)
        return
    log.info("call %s moved to %s:%d%s", call.id, *address, " (ICE restart)" if ice is not None else "")


async def _move_video(ua: UserAgent, call: Call) -> tuple[str, int, IceDescription | None] | None:
    """A new video port for a call whose video runs, on the audio's address, with its public address, relay and
    candidates learned afresh: where the re-INVITE puts the video."""
    local = call.machine.local_sdp
    old = call.video_port
    if old is None or local is None or not any(m.media.casefold() == "video" and m.port != 0 for m in local.media):
        return None
    try:
        port = MediaPort(call.media_port.host)
    except (TransportError, OSError) as exc:
        ua.call_manager.media.warning(call, "media_failure", f"no video port on our new address: {exc}")
        return None
    try:
        address = await media_address(call.account, port)
    except BaseException:
        port.close()
        raise
    if call.ended:
        port.close()
        return None
    if address.warning is not None:
        ua.call_manager.media.warning(call, address.warning_kind, address.warning)
    ua.call_manager.media.video.move(call, port)
    ice = None
    if address.candidates and call.machine.config.video is not None and call.machine.config.video.ice is not None:
        credentials = Credentials.new()
        ice = IceDescription(credentials.ufrag, credentials.pwd, address.candidates)
    return address.host, address.port, ice


async def _rebind(ua: UserAgent, call: Call, target: Target, relay: bool) -> None:
    """When our own address changed, the call's media gets a port on the new one (the old address is gone);
    with ``relay`` the new port is wrapped for the TURN relay that :func:`_reallocate` then allocates."""
    session = call.media_session
    try:
        host = ua.media_host_for(target)
    except TransportError:
        return
    if session is None or host == call.media_port.host:
        return
    try:
        port = MediaPort(host)
    except (TransportError, OSError) as exc:
        ua.call_manager.media.warning(call, "media_failure", f"no media port on our new address {host}: {exc}")
        return
    sock, port.socket = port.socket, None
    assert sock is not None
    account = call.account
    if relay and account.turn_server is not None and account.turn_user and account.turn_password:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            server = await resolve_server(account.turn_server, family, kind="TURN", default_port=TURN_PORT)
        except StunError as exc:
            ua.call_manager.media.warning(call, "turn", f"{exc}; the call moves without a relay")
        else:
            client = TurnClient(account.turn_user, account.turn_password, server=f"TURN server {server[0]}:{server[1]}")
            sock = RelayedSocket(sock, server, client, direct=account.ice_enabled)
    session.replace_socket(sock)
    log.info("call %s: media moves from %s:%d to %s:%d", call.id, call.media_port.host, call.media_port.port,
             port.host, port.port)  # fmt: skip
    call.media_port = port


async def _reallocate(ua: UserAgent, call: Call) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """A new TURN allocation for the call's relayed socket: the old one belongs to the old address."""
    session = call.media_session
    if session is None:
        return None, None
    try:
        relayed, mapped = await asyncio.wait_for(asyncio.wrap_future(session.reallocate_relay()), REALLOCATE_TIMEOUT)
    except (TurnError, MediaError, TimeoutError) as exc:
        reason = str(exc) or f"no new allocation within {REALLOCATE_TIMEOUT:.0f} s"
        ua.call_manager.media.warning(call, "turn", f"{reason}; the call moves without a relay")
        return None, None
    log.info("call %s: relayed at %s:%d after the move", call.id, *relayed)
    return relayed, mapped


async def _mapped(ua: UserAgent, call: Call, host: tuple[str, int]) -> tuple[str, int] | None:
    session = call.media_session
    server_text = call.account.stun_server
    if session is None or server_text is None:
        return None
    family = socket.AF_INET6 if ":" in host[0] else socket.AF_INET
    try:
        server = await resolve_server(server_text, family)
        mapped = await asyncio.wrap_future(session.reflexive_address(server))
    except (StunError, ReflexiveQueryError) as exc:
        ua.call_manager.media.warning(call, "stun", f"{exc}; the call offers its local address {host[0]}:{host[1]}")
        return None
    return None if mapped == host else mapped
