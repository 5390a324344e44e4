"""Helper process for the concurrency test (plain threads, no eventlet): asks for
`threads` different resources for one guest at once and prints the granted ones as JSON.

    python concurrent_grants.py DATABASE_URL SUBJECT THREADS OFFSET
"""

import json
import sys
import threading

from medcode_common.db import make_engine
from medcode_contracts.accounts import Plan
from metering.config import load_metering_settings
from metering.domain import Quotas, utcnow
from metering.storage import MeterStore


def main(url: str, subject: str, threads: int, offset: int) -> None:
    engine = make_engine(url, pool_size=threads)
    store = MeterStore(engine, Quotas.from_settings(load_metering_settings()))
    barrier = threading.Barrier(threads)
    granted: list[str] = []

    def ask(i: int) -> None:
        resource = f"ICD10CM:Z{offset + i:02d}"
        barrier.wait()
        [decision] = store.check_views(subject, Plan.GUEST, [resource], "10.1.1.1", utcnow())
        if decision.granted:
            granted.append(resource)

    workers = [threading.Thread(target=ask, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(granted))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
