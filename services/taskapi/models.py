"""Request and response bodies of the tasks API (see docs/api.md)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000
# PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 instead of a driver error.
NO_NUL = r"^[^\x00]*$"


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, the exact spelling the Go service uses.

    Called once per row written, so it is the largest serialisation cost of a page
    (docs/profiles/): isoformat is a third cheaper than strftime, and PostgreSQL already
    hands timestamps over in UTC, so the conversion is skipped when the offset is zero.
    """
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:26] + "Z"


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


class Ping(BaseModel):
    ping: str


class TaskIn(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=NO_NUL)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS, pattern=NO_NUL)] = ""


class Task(BaseModel):
    id: int
    title: str
    description: str
    done: bool
    created_at: Timestamp


class TaskPage(BaseModel):
    items: list[Task]
    next: str | None


class Detail(BaseModel):
    """The body of every error that is not a validation error: 400, 404, 405, 413, 503."""

    detail: str
