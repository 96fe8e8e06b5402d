"""The committed ``openapi.yaml``: rendered from the app the same way every time."""

import msgspec
import yaml
from litestar import Litestar
from litestar.serialization import get_serializer


def render_openapi(app: Litestar) -> str:
    """The app's OpenAPI document as YAML, keys sorted, so the file only changes when the API does."""
    schema = msgspec.to_builtins(app.openapi_schema.to_schema(), enc_hook=get_serializer(app.type_encoders))
    return yaml.safe_dump(schema, default_flow_style=False, allow_unicode=True, sort_keys=True)
