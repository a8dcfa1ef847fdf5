"""Settings of the tasks API, read from the environment (names shared with go-gin)."""

from typing import Literal

from pydantic import Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict

Strategy = Literal["pool", "per-request"]
Driver = Literal["psycopg", "asyncpg"]


class Settings(BaseSettings):
    """Built by the app factory, never at import, so tests and servers each get their own."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: PostgresDsn
    db_strategy: Strategy = "pool"
    db_driver: Driver = "psycopg"
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_pool_max_waiting: int = Field(default=0, ge=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_pool_check: bool = True
    cursor_key: str = Field(default="fastapi-load-cursor-v1", min_length=1)

    @property
    def dsn(self) -> str:
        return str(self.database_url)
