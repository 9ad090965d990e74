"""Request ids and usage row ids: unguessable, unique, ordered by time, and never shared by a
forked child with its parent."""

from __future__ import annotations

import os
import re
import time
import uuid

from modelyard import ids

FORMAT = re.compile(r"req_[0-9a-f]{32}")


def test_request_ids_are_unique_and_well_formed_across_many_refills() -> None:
    made = [ids.request_id() for _ in range(10_000)]  # ~40 reads of the random source
    assert len(set(made)) == len(made)
    assert all(FORMAT.fullmatch(i) for i in made)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.request_id()  # the parent holds a partly used buffer
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        os.write(writer, " ".join(ids.request_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        theirs = set(pipe.read().split())
    os.waitpid(child, 0)
    ours = {ids.request_id() for _ in range(5)}
    assert len(theirs) == 5
    assert not ours & theirs


def test_ids_begin_with_the_time_so_new_rows_land_at_the_end_of_an_index() -> None:
    before = time.time_ns() // 1_000_000
    first = ids.request_id()
    rows = ids.row_ids(1000)
    time.sleep(0.002)
    later = ids.request_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(first[4:16], 16) <= after
    assert first < later  # a later millisecond sorts after
    parsed = [uuid.UUID(r) for r in rows]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(before <= u.int >> 80 <= after for u in parsed)
    assert len(set(rows)) == 1000
