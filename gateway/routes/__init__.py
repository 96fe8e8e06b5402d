"""HTTP routes: thin controllers, one module per resource."""

from litestar.types import ControllerRouterHandler

from gateway.routes.customers import list_customer_subscriptions
from gateway.routes.deliveries import DeliveryController
from gateway.routes.events import EventController, get_sample_event
from gateway.routes.health import healthz, readyz
from gateway.routes.keys import KeyController
from gateway.routes.metrics import get_metrics
from gateway.routes.portal import create_portal_link, create_portal_session, open_portal_link, portal_return
from gateway.routes.presets import PresetController
from gateway.routes.stripe_webhooks import receive_stripe_event
from gateway.routes.subscribers import SubscriberController

ROUTES: list[ControllerRouterHandler] = [healthz, readyz, KeyController, get_sample_event]
ROUTES += [PresetController, create_portal_session, create_portal_link, open_portal_link, portal_return]
ROUTES += [receive_stripe_event, EventController, list_customer_subscriptions]
ROUTES += [get_metrics]
ROUTES += [SubscriberController, DeliveryController]
