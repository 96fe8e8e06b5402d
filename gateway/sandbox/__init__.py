"""The built-in Stripe sandbox: a stateful Stripe double for tests, demos and first runs.

Served by a development gateway under ``/sandbox/stripe`` (and its portal page under
``/sandbox/portal``), or alone through ``gateway.sandbox.app.create_sandbox_app``. Faithful for the
calls the gateway makes, small elsewhere.
"""
