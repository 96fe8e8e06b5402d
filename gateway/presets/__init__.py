"""Presets: named Stripe portal configurations, from YAML files and per workspace.

For other parts of the gateway:

* ``choose_preset(presets, items)`` / ``auto_preset(session, settings, workspace_id, items)``: the
  preset ``preset: auto`` picks for a subscription's items ("default" when none matches).
* ``mark_stale(session, workspace_id, configuration_id)`` (or its statement, ``stale_update``, on a
  plain connection): a ``billing_portal.configuration.updated`` event arrived; the configuration is
  checked against its preset before its next use.
"""

from gateway.presets.catalog import AUTO, DEFAULT_PRESET, Catalog, NamedPreset, choose_preset
from gateway.presets.store import auto_preset, mark_stale, stale_update, workspace_catalog

__all__ = [
    "AUTO",
    "DEFAULT_PRESET",
    "Catalog",
    "NamedPreset",
    "auto_preset",
    "choose_preset",
    "mark_stale",
    "stale_update",
    "workspace_catalog",
]
