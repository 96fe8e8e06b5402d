"""The Bubble API Connector settings that get a portal URL for one preset, ready to copy.

Bubble's API Connector is the strictest client: the key goes in a private header, the call is an
*Action* (a *Data* call re-runs on every render), the response's fields are learned once from
"Initialize call" (which really runs the call, so it asks for a dry run), and errors stop the
workflow unless "Include errors in response" is ticked. ``docs/bubble.md`` is the whole guide.
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
    #: A filled-in answer, for "Manually enter API response" or to check the detected fields.
    answer: str
    steps: list[str]


def connector_settings(
    public_url: str, named: NamedPreset, *, workspace_name: str, livemode: bool
) -> ConnectorSettings:
    """What to type into Bubble's API Connector to open preset ``named``'s portal for a customer.

    The same settings as ``docs/bubble.md``, with this gateway's URL and this preset filled in.
    """
    body = (
        f'{{"customer": "<customer>", "preset": "{named.name}", "return_url": "<return_url>", '
        '"dry_run": <dry_run>}'
    )
    # Bubble keeps a live key and a development key; this workspace's keys are one of the two.
    key_field, key_value = (
        ("Key value", "Bearer gw_live_...")
        if livemode
        else (
            "Development key value",
            "Bearer gw_test_...",
        )
    )
    api = [
        Setting("API Name", "Portal Gateway"),
        Setting("Authentication", "Private key in header", "Keeps the key on Bubble's server."),
        Setting("Key name", "Authorization"),
        Setting(
            key_field,
            key_value,
            "A portal key of this workspace (it makes portal URLs, nothing else): "
            f"gateway keys create --workspace {workspace_name} --scope portal --name bubble",
        ),
    ]
    call = [
        Setting("Name", f"Create portal session ({named.name})"),
        Setting("Use as", "Action", "Not Data: a Data call runs again each time a page element needs it."),
        Setting("Data type", "JSON"),
        Setting("Method", "POST"),
        Setting("URL", f"{public_url}/v1/portal-sessions"),
        Setting("Body type", "JSON"),
        Setting(
            "Include errors in response and allow workflow actions to continue",
            "ticked",
            "Errors then answer ok = no with an error_code instead of stopping the workflow.",
        ),
    ]
    steps = [
        (
            "Untick Private on the parameters customer, return_url and dry_run, so the workflow can fill "
            'them. No customer ID on the user? Send "email" or "external_user_id" instead of "customer".'
        ),
        (
            "Set dry_run to true and click Initialize call: the gateway answers every field, filled in, "
            "without calling Stripe (below). Then set dry_run's default to false."
        ),
        (
            "In the button's workflow: this action (customer = the user's Stripe customer ID, dry_run = "
            "no), then Open an external website with Result of step 1's url, only when Result of step 1's "
            "ok is yes, in the same tab."
        ),
    ]
    if named.preset.flow:
        steps.append(f"This preset always opens the {named.preset.flow} page: no flow parameter is needed.")
    answer = {**ANSWERS["createPortalSession"], "preset": named.name}
    return ConnectorSettings(api=api, call=call, body=body, answer=json.dumps(answer, indent=2), steps=steps)
