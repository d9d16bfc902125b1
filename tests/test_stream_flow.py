"""The deferral bookkeeping of flow.py: which messages a re-read processes, and when it may start."""
from fasstream.stream.flow import Deferral


def _pass(deferral, log, room):
    """Feed ``log`` [(offset, session)]; a session without room is deferred. Returns the processed offsets."""
    processed = []
    for offset, sid in log:
        if deferral.seen(offset, sid):
            continue
        if deferral.defers(sid) or (sid not in room and (deferral.sessions or len(room) >= 2)):
            deferral.defer(sid, offset)
            continue
        room.add(sid)
        processed.append(offset)
    return processed


def test_deferred_sessions_are_read_again_in_order_and_nothing_twice():
    log = [(0, "a"), (1, "b"), (2, "c"), (3, "a"), (4, "d"), (5, "c"), (6, "b"), (7, "e")]
    deferral, room = Deferral(), set()
    first = _pass(deferral, log, room)
    assert first == [0, 1, 3, 6] and deferral.sessions == {"c", "d", "e"} and deferral.start == 2
    assert deferral.can_reread()
    start = deferral.reread()
    room.clear()  # a and b answered: room for two again
    second = _pass(deferral, [m for m in log if m[0] >= start], room)
    assert second == [2, 4, 5] and deferral.sessions == {"e"}  # c and d admitted, e deferred once more
    assert not set(first) & set(second)
    assert deferral.can_reread()  # the re-read reached where the first pass ended
    start = deferral.reread()
    room.clear()
    assert _pass(deferral, [m for m in log if m[0] >= start] + [(8, "e"), (9, "f")], room) == [7, 8, 9]


def test_a_reread_never_starts_inside_another():
    deferral = Deferral()
    deferral.seen(0, "a")
    deferral.defer("a", 0)
    deferral.seen(5, "z")
    assert deferral.reread() == 0
    deferral.seen(0, "a")  # the re-read is at offset 0 of 5
    deferral.defer("a", 0)
    assert not deferral.can_reread()
    assert deferral.seen(3, "z")  # handled in the first pass: skipped
    deferral.seen(5, "z")
    assert deferral.can_reread()
