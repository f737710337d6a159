"""Child process of the crash-safety test: stores incoming messages in a loop, printing each id once stored.

``python -m tests.store.crash_writer DB FIRST`` adds messages numbered from
FIRST (each also a second time, as a retransmission that must not be new) and
prints ``<number> <id>`` after :meth:`add_incoming` has returned, until killed.
"""

from __future__ import annotations

import sys

from softphone.store import Store


def main() -> None:
    path, first = sys.argv[1], int(sys.argv[2])
    store = Store(path)
    number = first
    while True:
        message, new = store.messages.add_incoming(
            "sip:me@example.com", "sip:flood@example.com", f"Nachricht {number} 🔥", call_id=f"call-{number}", cseq=1
        )
        assert new, number
        _, again = store.messages.add_incoming(
            "sip:me@example.com", "sip:flood@example.com", f"Nachricht {number} 🔥", call_id=f"call-{number}", cseq=1
        )
        assert not again, number
        sys.stdout.write(f"{number} {message.id}\n")
        sys.stdout.flush()
        number += 1


if __name__ == "__main__":
    main()
