"""The garbage collector of a service process, set for batches of thousands of objects.

CPython starts a young-generation collection every 700 allocations of container
objects, and a full one whenever the objects that survived grow by a quarter. A batch
request or a consumer batch builds tens of thousands of dicts and lists that live
until it ends: at those thresholds they are scanned again and again, promoted, and
soon a full collection walks the whole heap — about 30 % of the events service's CPU
while ingesting batches (docs/storage.md). A service process therefore

- collects the young generation only every `YOUNG_THRESHOLD` allocations, and
- once started, moves what startup built (modules, models, routes, reference copies)
  into the permanent generation (`gc.freeze`), which collections no longer walk.

Reference counting frees most objects as before, and cycles are still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
# Collections of the middle and old generations, per collection of the one below.
OLDER_THRESHOLDS = (20, 20)


def tune_collector() -> None:
    """At process start: collect less often."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def freeze_startup_objects() -> None:
    """Once the service is up: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
