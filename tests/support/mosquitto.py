"""The throw-away Mosquitto of the tests: host_tools/headend/broker.py's LocalBroker (the demo
uses it too), which the test setup lets install the Debian package when it is missing (GUIDE:
a test that cannot start its server fails loudly, it never skips)."""

from host_tools.headend.broker import (  # noqa: F401  (re-exported for the tests)
    HEADEND_USER,
    TOPIC_ROOT,
    BrokerUnavailable,
    LocalBroker,
    acl_text,
    find_mosquitto,
    free_port,
)
from host_tools.headend.broker import make_throwaway_pki as make_test_pki  # noqa: F401


class ScratchBroker(LocalBroker):
    """LocalBroker that installs Mosquitto (apt-get, as root) when it is missing."""

    def __init__(self, meters=None, headend_password=None, tls=False):
        super().__init__(meters, headend_password, tls, install=True)
