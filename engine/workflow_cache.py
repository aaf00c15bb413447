"""Workflows kept in memory between commands, keyed by instance id and stored version.

Rebuilding a workflow from its JSON costs as much as running a step, and grows with the
instance (a 300-step chain: ~9 ms). After a command commits, its workflow object is exactly the
state it saved under the new `version`, so the next command on that instance in this process may
take the object instead of loading the JSON, when the row still has that version. Another process
changing the instance moves the version on, so a stale object is never used.

An entry is taken out (not copied) when a command uses it and put back only after that command
commits: a command that fails or rolls back leaves no entry, and the next one loads the last
committed state from the database. GOVFLOW_WORKFLOW_CACHE sets the size (0 turns it off).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

DEFAULT_SIZE = 500


class WorkflowCache:
    """A small LRU of (instance id → (version, workflow)), safe to share between threads."""

    def __init__(self, size: int | None = None):
        if size is None:
            size = int(os.environ.get("GOVFLOW_WORKFLOW_CACHE", DEFAULT_SIZE))
        self.size = max(size, 0)
        self._entries: OrderedDict[int, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, instance_id: int, version: int):
        """The cached workflow of `instance_id` at `version`, removed from the cache; else None."""
        with self._lock:
            entry = self._entries.pop(instance_id, None)
            if entry is not None and entry[0] == version:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, instance_id: int, version: int, workflow) -> None:
        """Keep `workflow` as instance `instance_id`'s committed state at `version`."""
        if not self.size:
            return
        workflow.script_engine = None  # it holds the finished command's session
        with self._lock:
            self._entries[instance_id] = (version, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, instance_id: int) -> None:
        with self._lock:
            self._entries.pop(instance_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
