"""Portal Gateway: Stripe portal URLs by preset, and subscription changes out to no-code callbacks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("portal-gateway")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
