"""The ledger and the two lanes: nothing skipped or sent twice, whatever the interleaving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.forward.cursor import INFINITY, AckLedger, BacklogBatch, LaneBook
from gateway.storage.readings import StoredReading
from tests.forward.support import reading


def test_ledger_merges_ranges_and_advances_the_cursor() -> None:
    ledger = AckLedger()
    ledger.ack(5, 7)
    ledger.ack(10, 12)
    assert (ledger.cursor, ledger.ranges) == (0, [(5, 7), (10, 12)])
    ledger.ack(8, 9)
    assert ledger.ranges == [(5, 12)]
    ledger.ack(1, 4)
    assert (ledger.cursor, ledger.ranges) == (12, [])
    ledger.ack_seqs([14, 15, 17])
    assert ledger.ranges == [(14, 15), (17, 17)]
    assert ledger.skip(12) == 12
    assert ledger.skip(13) == 15
    assert ledger.next_acked_above(12) == 14
    assert ledger.next_acked_above(17) == INFINITY
    assert AckLedger.from_json(ledger.to_json()).ranges == ledger.ranges


@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 8)), max_size=40))
def test_ledger_equals_a_set(acks: list[tuple[int, int]]) -> None:
    ledger = AckLedger()
    model: set[int] = set()
    for lo, width in acks:
        ledger.ack(lo, lo + width)
        model |= set(range(lo, lo + width + 1))
    for seq in range(80):
        assert ledger.is_acked(seq) == (seq in model or seq == 0), seq
    cursor = 0
    while cursor + 1 in model:
        cursor += 1
    assert ledger.cursor == cursor
    for lo, hi in ledger.ranges:
        assert lo > cursor + 1
        assert hi >= lo


@dataclass
class World:
    """A store (seq -> present), what the server received, and the persisted ledger."""

    rows: dict[int, StoredReading]
    last_seq: int
    saved: dict[str, object]
    received: set[int]

    def receive(self, batch: Sequence[StoredReading]) -> None:
        """The server takes a batch; every ledger save follows its acknowledgement, so a
        reading arriving twice was sent by two lanes or planned twice."""
        seqs = {item.seq for item in batch}
        assert not seqs & self.received, f"sent twice: {sorted(seqs & self.received)}"
        self.received |= seqs

    def fetch(self, pos: int, limit: int) -> list[StoredReading]:
        return [self.rows[seq] for seq in sorted(self.rows) if seq > pos][:limit]


OPS = st.sampled_from(
    ["commit", "commit", "live_ok", "live_fail", "backlog_ok", "backlog_fail", "crash", "prune"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(OPS, st.integers(1, 9)), min_size=1, max_size=80),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 10),
)
def test_lanes_never_skip_a_reading(
    ops: list[tuple[str, int]], capacity: int, batch: int, initial: int
) -> None:
    """Any interleaving of commits, live/backlog successes and failures, deletions and crashes:
    every seq the ledger counts as acknowledged was received by the server (or deleted before
    anyone could send it), and once everything succeeds, every stored reading arrives."""
    world = World({}, 0, AckLedger().to_json(), set())
    deleted: set[int] = set()

    def commit(count: int) -> list[StoredReading]:
        made = []
        for _ in range(count):
            world.last_seq += 1
            item = StoredReading(world.last_seq, reading(world.last_seq))
            world.rows[item.seq] = item
            made.append(item)
        return made

    def boot() -> LaneBook:
        return LaneBook(AckLedger.from_json(world.saved), capacity, world.last_seq + 1)

    commit(initial)
    book = boot()
    ahead: BacklogBatch | None = None  # planned while the batch before it was in flight
    for op, arg in ops:
        if op == "commit":
            book.offer(commit(arg))
        elif op in ("live_ok", "live_fail"):
            sent = book.take_live(batch)
            if op == "live_ok":
                world.receive(sent)
                book.live_acked(sent)
                world.saved = book.ledger.to_json()
            else:
                book.live_failed(sent)
        elif op in ("backlog_ok", "backlog_fail"):
            planned = ahead if book.continues(ahead) else book.plan_backlog(world.fetch, batch)
            ahead = None
            if planned is not None and planned.rows:
                ahead = book.plan_backlog(world.fetch, batch, after=planned.hi)
            if planned is not None and op == "backlog_ok":
                assert all(planned.lo <= item.seq <= planned.hi for item in planned.rows)
                world.receive(planned.rows)
                book.backlog_acked(planned)
                world.saved = book.ledger.to_json()
            else:
                ahead = None
        elif op == "crash":
            book = boot()
            ahead = None
        elif op == "prune" and world.rows:
            oldest = min(world.rows)
            deleted.add(oldest)
            del world.rows[oldest]
        ledger = AckLedger.from_json(world.saved)
        for seq in range(1, world.last_seq + 1):
            if ledger.is_acked(seq):
                assert seq in world.received or seq in deleted, (seq, op, ledger)

    # Drain: the server answers every request now.
    for _ in range(10 * (world.last_seq + 2)):
        sent = book.take_live(batch)
        if sent:
            world.receive(sent)
            book.live_acked(sent)
            continue
        planned = book.plan_backlog(world.fetch, batch)
        if planned is None:
            break
        world.receive(planned.rows)
        book.backlog_acked(planned)
    assert set(world.rows) <= world.received
    assert book.ledger.cursor == world.last_seq
