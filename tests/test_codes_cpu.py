"""benchmarks.codes_cpu's profile buckets, from a hand-made py-spy raw profile."""

from __future__ import annotations

import pytest

from benchmarks.codes_cpu import buckets

RAW = [
    "main (x.py:1);ServiceContainer._run_worker (nameko/containers.py:388);"
    "CodesService.search_codes (codes/service.py:40);_Run.fetch (codes/search/embedded.py:280) 6",
    # the worker's own frame holds the reply too: the reply's bucket, not the worker's
    "main (x.py:1);ServiceContainer._run_worker (nameko/containers.py:403);"
    "Responder.send_response (medcode_common/nameko_rpc.py:56) 3",
    "BaseHub.run (eventlet/hubs/hub.py:362);Hub.wait (eventlet/hubs/poll.py:80) 1",
    "somewhere (y.py:2) 2",
    "",
]


def test_each_sample_counts_once_in_the_first_bucket_it_matches():
    shares = buckets(RAW)
    assert shares == pytest.approx(
        {"search_codes (handler)": 0.5, "reply publish": 0.25, "eventlet hub": 1 / 12, "other": 1 / 6}
    )
    assert list(shares)[0] == "search_codes (handler)"  # biggest first
