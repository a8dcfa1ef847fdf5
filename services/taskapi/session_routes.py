"""`/tasks/` the FastAPI template's way, for DB_LAYER=sqlalchemy-session: `def` routes and a `def`
session dependency, which FastAPI runs in its thread pool, over a synchronous Session.

Only the two database routes differ; /ping/, the page dependency, the responses and the
/openapi.json document are routes.py's, so the variant changes the data layer and nothing else.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.routing import APIRoute

from taskapi.models import Task, TaskIn, TaskPage
from taskapi.routes import (
    _INVALID_CURSOR,
    _TOO_LARGE,
    _UNAVAILABLE,
    PageRequest,
    create_router,
    page_request,
)
from taskapi.sa_session import SessionDatabase, SessionRepository
from taskapi.writers import WRITERS

# The session layer serialises as the default does (APP_RESPONSE=serialize): only the data layer differs.
_WRITE = WRITERS["serialize"]

_TASKS = "/tasks/"


def session_repository(request: Request) -> Iterator[SessionRepository]:
    """The template's SessionDep: a Session per request, closed (its connection back in the
    pool) when the request is done."""
    database: SessionDatabase = request.app.state.database
    with database.session() as session:
        yield SessionRepository(session)


SessionDep = Annotated[SessionRepository, Depends(session_repository)]


def create_session_router() -> APIRouter:
    shared = [r for r in create_router().routes if not (isinstance(r, APIRoute) and r.path == _TASKS)]
    router = APIRouter(routes=shared)

    @router.get(_TASKS, response_model=TaskPage, responses={**_INVALID_CURSOR, **_UNAVAILABLE})
    def list_tasks(page: Annotated[PageRequest, Depends(page_request)], repo: SessionDep) -> Response:
        rows = repo.list_after(page.after_id, page.limit)
        written: Response = _WRITE.page(rows, page.next_cursor(rows))
        return written

    @router.post(
        _TASKS,
        response_model=Task,
        status_code=status.HTTP_201_CREATED,
        responses={**_TOO_LARGE, **_UNAVAILABLE},
    )
    def create_task(task: TaskIn, repo: SessionDep) -> Response:
        row = repo.create(task.title, task.description)
        written: Response = _WRITE.task(row)
        return written

    return router
