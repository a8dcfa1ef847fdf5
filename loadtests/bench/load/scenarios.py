"""The load scenarios as plain data, shared by the harness and the locustfile without importing Locust."""

from dataclasses import dataclass

# Request names: every row in Locust's statistics carries one of these, so a cursor in the URL
# never makes a new row and every implementation's results line up row for row.
PING_REQUEST = "GET /ping/"
LIST_REQUEST = "GET /tasks/"
NEXT_PAGE_REQUEST = "GET /tasks/?after=[cursor]"
CREATE_REQUEST = "POST /tasks/"

PAGE_LIMIT = 100  # the contract's largest page: the fewest requests for a full walk
DEFAULT_LIMIT = 25  # the contract's default page, what `list` asks for (without a limit parameter)
# The first page at each size the serialisation experiment reads (issue 18); `list` is the default.
LIST_LIMITS = {"list-1": 1, "list": DEFAULT_LIMIT, "list-100": PAGE_LIMIT}
MIXED_LIST_WEIGHT = 8  # with MIXED_CREATE_WEIGHT: 80% reads, 20% writes
MIXED_CREATE_WEIGHT = 2


@dataclass(frozen=True)
class Request:
    """One request an open-loop generator sends: the same bytes every time."""

    method: str
    path: str
    body: str | None = None


# POST /tasks/'s body for generators that send one fixed request (wrk's create.lua and vegeta).
CREATE_BODY = '{"title": "load test task", "description": "created by the open-loop generator"}'
PING = Request("GET", "/ping/")
LIST = Request("GET", "/tasks/")
CREATE = Request("POST", "/tasks/", CREATE_BODY)


@dataclass(frozen=True)
class Scenario:
    name: str
    user_class: str  # the locustfile class; passed to locust as a positional argument
    description: str
    writes: bool  # grows the tasks table, so the harness resets it before each case
    requests: tuple[str, ...]  # the request names its Locust statistics rows may carry
    # What an open-loop generator cycles through, in order (repeats set the mix); empty: a scenario
    # whose requests depend on earlier answers (paginate's cursors) cannot be sent open-loop.
    open_loop: tuple[Request, ...] = ()


_ALL = (
    Scenario(
        name="ping",
        user_class="PingUser",
        description="GET /ping/: the server and framework alone, no database",
        writes=False,
        requests=(PING_REQUEST,),
        open_loop=(PING,),
    ),
    Scenario(
        name="list",
        user_class="ListUser",
        description="GET /tasks/: the first page at the default limit (25)",
        writes=False,
        requests=(LIST_REQUEST,),
        open_loop=(LIST,),
    ),
    Scenario(
        name="list-1",
        user_class="List1User",
        description="GET /tasks/?limit=1: the first page of one task, serialisation at its smallest",
        writes=False,
        requests=(LIST_REQUEST,),
        open_loop=(Request("GET", "/tasks/?limit=1"),),
    ),
    Scenario(
        name="list-100",
        user_class="List100User",
        description="GET /tasks/?limit=100: the first page at the contract's largest size",
        writes=False,
        requests=(LIST_REQUEST,),
        open_loop=(Request("GET", f"/tasks/?limit={PAGE_LIMIT}"),),
    ),
    Scenario(
        name="paginate",
        user_class="PaginateUser",
        description=f"GET /tasks/ following `next` at limit={PAGE_LIMIT} to the end; one task = one walk",
        writes=False,
        requests=(LIST_REQUEST, NEXT_PAGE_REQUEST),
    ),
    Scenario(
        name="create",
        user_class="CreateUser",
        description="POST /tasks/ with a JSON title and description",
        writes=True,
        requests=(CREATE_REQUEST,),
        open_loop=(CREATE,),
    ),
    Scenario(
        name="mixed",
        user_class="MixedUser",
        description="80% GET /tasks/ first page, 20% POST /tasks/, by task weights",
        writes=True,
        requests=(LIST_REQUEST, CREATE_REQUEST),
        open_loop=(*(LIST,) * MIXED_LIST_WEIGHT, *(CREATE,) * MIXED_CREATE_WEIGHT),
    ),
)

SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL}
