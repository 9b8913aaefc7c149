"""Storage errors the turn runner reacts to."""


class ConcurrentUpdate(Exception):
    """A row changed since it was read (optimistic version check failed); retry the turn."""
