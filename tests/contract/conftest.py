"""The `api` fixture: a real HTTP client on a real server, one per (service, strategy)."""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import ServiceLauncher, application_name
from tests.contract.targets import contract_targets

CONTRACT_POOL_MAX = 5


@dataclass
class Api:
    client: httpx.Client
    base_url: str
    service: str
    variant: str
    application_name: str | None
    pool_max: int | None
    processes: int = 1


def _with_application_name(url: str, name: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'application_name': name})}"


@pytest.fixture(
    scope="session",
    params=contract_targets(),
    ids=lambda target: f"{target[0]}:{target[1]}",
)
def api(request: pytest.FixtureRequest, launch: ServiceLauncher) -> Iterator[Api]:
    external = request.config.getoption("--contract-url")
    if external:
        with httpx.Client(base_url=external, timeout=30) as client:
            yield Api(client, external, "external", "external", None, None)
        return
    service, variant = request.param
    name = application_name(service, variant)
    url = _with_application_name(launch.database.url, name)
    with launch(
        service, variant, env={"DATABASE_URL": url, "DB_POOL_MAX": str(CONTRACT_POOL_MAX)}
    ) as running:
        assert running.env["DB_POOL_MAX"] == str(CONTRACT_POOL_MAX)
        with httpx.Client(base_url=running.url, timeout=30) as client:
            yield Api(
                client,
                running.url,
                service,
                variant,
                name,
                CONTRACT_POOL_MAX,
                running.launch.workers,
            )
