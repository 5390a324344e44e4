"""Command line of the careers service.

    python -m careers.cli demo-data      (make demo-data)

Posts the sample jobs (careers.sample_data, marked as sample data) unless they are on the
board already. Through the running careers service when one answers (so the jobs are
indexed and announced at once), else straight into its database and index.
"""

from __future__ import annotations

import sys


def _through_service(settings) -> int | None:
    """Sample jobs posted by the running service, or None when no service answers."""
    import eventlet

    eventlet.monkey_patch()
    from nameko import config
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcClient

    from medcode_common.runner import nameko_config
    from medcode_contracts import careers as contract

    config.setup(nameko_config(settings))
    try:
        with eventlet.Timeout(30), ClusterRpcClient(timeout=30) as cluster:
            return getattr(cluster, contract.SERVICE).post_demo_jobs({})
    except RemoteError:
        raise
    except (Exception, eventlet.Timeout):  # no broker, no service, no answer: go direct
        return None


def _directly(settings) -> int:
    from medcode_contracts import careers as contract

    from . import storage
    from .domain import Careers
    from .search import make_index

    engine = storage.SCHEMA.open(settings.database_url(contract.SERVICE))
    index = make_index(settings)
    try:
        return Careers(storage.CareerStore(engine), index, settings).post_demo_jobs()
    finally:
        index.close()
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["demo-data"]:
        print("usage: python -m careers.cli demo-data", file=sys.stderr)
        return 2
    from medcode_common.settings import settings_or_exit

    from .config import load_careers_settings

    settings = settings_or_exit(load_careers_settings)
    posted = _through_service(settings)
    how = "through the careers service"
    if posted is None:
        posted, how = _directly(settings), "into the careers database (the service indexes them when it starts)"
    print(f"posted {posted} sample jobs {how}" if posted else "the sample jobs are on the board already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
