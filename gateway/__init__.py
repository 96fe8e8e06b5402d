"""Portal Gateway: Stripe portal URLs by preset, and subscription changes out to no-code callbacks."""

import sys
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("portal-gateway")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def _import_stripe() -> None:
    """Import the Stripe SDK without the HTTP libraries it would pick its default clients from.

    On import, ``stripe`` imports ``requests`` and ``httpx`` (about 9 MB resident with what they pull
    in) to choose default clients; the gateway always hands it an ``AIOHTTPClient``. Hidden while
    ``stripe`` loads, they stay importable for anything else that wants them afterwards.
    """
    if "stripe" in sys.modules:
        return
    hidden = [name for name in ("requests", "httpx") if name not in sys.modules]
    for name in hidden:  # a None entry makes "import name" raise ImportError
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import stripe  # noqa: F401, PLC0415
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


_import_stripe()
