"""The tasks table as SQLAlchemy sees it: one mapped Task class, whose Table the Core layer uses."""

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Identity, Select, Table, Text, bindparam, false, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskapi.repository import TaskRow


class Base(DeclarativeBase):
    pass


class Task(Base):
    """migrations/000001_initial.up.sql, mapped. The database fills id, done and created_at."""

    __tablename__ = "tasks"
    # Fetch what the database fills in through the INSERT's RETURNING, in the same round trip;
    # the FastAPI template instead refreshes after commit, a SELECT more per create.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    done: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


tasks = cast(Table, Task.__table__)

# Built once with named parameters, so SQLAlchemy compiles it once (its compiled cache) and the
# driver prepares it once per connection, like repository.py's LIST_SQL.
ORM_LIST: Select[Task] = (
    select(Task).where(Task.id > bindparam("after_id")).order_by(Task.id).limit(bindparam("limit"))
)


def task_row(task: Task) -> TaskRow:
    """The shared routes write TaskRows, so an ORM layer copies each mapped Task into one."""
    return TaskRow(task.id, task.title, task.description, task.done, task.created_at)
