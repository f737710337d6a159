"""Moving a call to where the network put us: after a network change, a re-INVITE with our new address.

When the registration finds that its flow moved (our local address changed,
or the registrar sees us at another public address), each established call
of that account learns the media port's new public address from the
account's STUN server (asked by the call's media thread, which owns the
socket) and sends a re-INVITE naming it. A call with ICE restarts it (RFC
8445 9: new ufrag and password, the new host and server-reflexive
candidates); the dialog's Contact moves with the registration's. A relayed
candidate is not offered again: the TURN allocation belongs to the old
address. A STUN server that does not answer costs a warning, and the
re-INVITE names the local address.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription, local_candidates
from softphone.media.gather import ReflexiveQueryError
from softphone.transport.errors import TransportError
from softphone.transport.stun import StunError, resolve_server
from softphone.ua.errors import UserAgentError

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent
    from softphone.ua.call import Call

__all__ = ["move_call"]

log = logging.getLogger("softphone.ua")


async def move_call(ua: UserAgent, call: Call) -> None:
    """Re-INVITE ``call`` with our media's address as seen now, restarting ICE when the call has it."""
    account = call.account
    host = (call.media_port.host, call.media_port.port)
    mapped = await _mapped(ua, call, host)
    ice = None
    if call.machine.config.audio.ice is not None:
        credentials = Credentials.new()
        ice = IceDescription(credentials.ufrag, credentials.pwd, local_candidates(host, mapped))
    address = mapped if mapped is not None else host
    target = ua.registration_target(account.aor)
    try:
        contact = ua.contact_for(account, target) if target is not None else None
    except TransportError:
        contact = None
    try:
        await ua.call_manager.move(call, address[0], address[1], ice, contact)
    except UserAgentError as exc:
        log.info("call %s stays where it was after the network change: %s", call.id, exc)
        return
    log.info("call %s moved to %s:%d%s", call.id, *address, " (ICE restart)" if ice is not None else "")


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
