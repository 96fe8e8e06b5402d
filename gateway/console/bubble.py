"""The Bubble API Connector settings that get a portal URL for one preset, ready to copy.

Bubble's API Connector is the strictest client (``reference/nocode-clients.md`` §1): the key goes in
a private header, the call is an *Action* (a *Data* call re-runs on every render), the response
schema is learned once from "Initialize call" (which really runs the call, so it uses the dry run),
and errors stop the workflow unless "Include errors in response" is ticked.
"""

import json
from dataclasses import dataclass

from gateway.examples import ANSWERS
from gateway.presets import NamedPreset


@dataclass(frozen=True)
class Setting:
    """One field of the API Connector and what to put in it."""

    name: str
    value: str
    hint: str = ""


@dataclass(frozen=True)
class ConnectorSettings:
    """The API (set once) and the call (one per preset)."""

    api: list[Setting]
    call: list[Setting]
    body: str
    initialize_header: Setting
    #: A filled-in answer, for "Manually enter API response" or to check the detected fields.
    answer: str
    steps: list[str]


def connector_settings(public_url: str, named: NamedPreset, *, workspace_name: str) -> ConnectorSettings:
    """What to type into Bubble's API Connector to open preset ``named``'s portal for a customer."""
    body = json.dumps({"customer": "<customer_id>", "preset": named.name}, indent=2)
    api = [
        Setting("API Name", "Portal Gateway"),
        Setting("Authentication", "Private key in header"),
        Setting("Key name", "Authorization"),
        Setting(
            "Key value",
            "Bearer gw_..._your_portal_key",
            "A portal-scope key (it can make portal URLs, nothing else): "
            f"gateway keys create --workspace {workspace_name} --scope portal --name bubble",
        ),
    ]
    call = [
        Setting("Name", f"Portal URL ({named.name})"),
        Setting("Use as", "Action", "Not Data: a Data call runs again each time the page shows it."),
        Setting("Data type", "JSON"),
        Setting("Method", "POST"),
        Setting("URL", f"{public_url}/v1/portal-sessions"),
        Setting("Body type", "JSON"),
        Setting(
            "Parameter customer_id",
            "cus_... (uncheck Private)",
            'The Stripe customer ID you keep on the user. Or send "email" or "external_user_id" '
            '(matched against the customer\'s metadata external_user_id) instead of "customer".',
        ),
        Setting(
            "Include errors in response and allow workflow actions to continue",
            "checked",
            "Errors then answer with error_code and error_message instead of stopping the workflow.",
        ),
    ]
    steps = [
        (
            "Add the header below, click Initialize call: the gateway answers a filled-in example without "
            "calling Stripe, so Bubble learns every field. Then delete the header."
        ),
        (
            "In your workflow: this action (customer_id = Current User's Stripe customer ID), then "
            '"Open an external website" with Result of step 1\'s url.'
        ),
    ]
    if named.preset.flow:
        steps.append(f"This preset always opens the {named.preset.flow} page: no flow parameter is needed.")
    answer = {**ANSWERS["createPortalSession"], "preset": named.name}
    return ConnectorSettings(
        api=api,
        call=call,
        body=body,
        initialize_header=Setting("Header while initializing", "X-Dry-Run: 1"),
        answer=json.dumps(answer, indent=2),
        steps=steps,
    )
