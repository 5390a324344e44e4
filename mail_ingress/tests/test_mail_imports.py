"""The mail ingress is an edge process of its own: it reaches the services through the
platform's RPC client (medcode_common.aio_rpc), never through the gateway's code."""

import subprocess
import sys


def test_the_mail_ingress_imports_nothing_of_the_gateway():
    probe = (
        "import sys, mail_ingress.__main__, medcode_common.aio_rpc; "
        "print(sorted(m for m in sys.modules if m == 'gateway' or m.startswith('gateway.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
