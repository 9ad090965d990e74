"""Request ids: unguessable, unique, and never shared by a forked child with its parent."""

from __future__ import annotations

import os
import re

from modelyard.gateway import ids

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
