"""Message IDs (WS-Addressing 1.0 section 3.2): random version 4 UUIDs, drawn from the OS a few at a time."""

from __future__ import annotations

import threading
import uuid

from wssc.primitives.xml import parse
from wssc.security import addressing
from wssc.security.addressing import Addressing, envelope, message_id_of, new_message_id


def test_message_ids_are_version_4_uuids_and_never_repeat() -> None:
    ids = [new_message_id() for _ in range(3 * addressing._IDS_PER_DRAW + 5)]  # across several draws
    assert len(set(ids)) == len(ids)
    for text in ids:
        value = uuid.UUID(text.removeprefix("urn:uuid:"))
        assert text == f"urn:uuid:{value}" and value.version == 4 and value.variant == uuid.RFC_4122


def test_threads_draw_their_own_ids() -> None:
    found: list[str] = []

    def draw() -> None:
        found.extend(new_message_id() for _ in range(100))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 400


def test_an_envelope_without_a_given_id_gets_a_fresh_one() -> None:
    first, second = (message_id_of(parse(envelope(None, Addressing("urn:a"))).find("*")) for _ in range(2))
    assert first != second and first is not None and first.startswith("urn:uuid:")
