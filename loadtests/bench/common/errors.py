"""The one exception type the CLI turns into a single clear line instead of a traceback."""


class BenchError(Exception):
    """A user-facing failure: bad input, missing tool, unreachable database, taken port."""
