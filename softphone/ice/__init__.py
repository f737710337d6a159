"""Interactive Connectivity Establishment (RFC 8445) for one media stream, sans-I/O.

:mod:`~softphone.ice.candidate` holds candidates and their SDP form (RFC
8839); :mod:`~softphone.ice.agent` the agent that checks pairs, nominates
one and keeps consent for it (RFC 7675). Nothing here touches sockets,
threads or the clock: the media thread feeds the agent datagrams and the
time, and sends what it returns.
"""
