"""HTTP routes: thin controllers, one module per resource."""

from litestar.types import ControllerRouterHandler

from gateway.routes.events import get_sample_event
from gateway.routes.health import healthz, readyz
from gateway.routes.keys import KeyController

ROUTES: list[ControllerRouterHandler] = [healthz, readyz, KeyController, get_sample_event]
