"""The app's OpenAPI document for go-gin: `uv run python -m taskapi.openapi > go-gin/openapi.json`."""

import json
import sys
from typing import Any

from pydantic import PostgresDsn

from taskapi.app import create_app
from taskapi.settings import Settings

# Never connected to: building the app opens nothing, only its lifespan would, and the
# document does not depend on any setting.
_UNUSED_DATABASE_URL = PostgresDsn("postgresql://openapi@localhost:5432/openapi")


def openapi_document() -> dict[str, Any]:
    return create_app(Settings(database_url=_UNUSED_DATABASE_URL)).openapi()


def render(document: dict[str, Any]) -> str:
    """Sorted keys and a trailing newline, so the committed file diffs cleanly."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    sys.stdout.write(render(openapi_document()))


if __name__ == "__main__":
    main()
