"""Errors raised by the numerics engine (no Django here: the API layer turns these into 400s)."""


class SpecError(ValueError):
    """A bad distribution spec or domain.

    `path` names the offending field relative to the spec (``"points[2].p"``, ``"mass_above"``,
    ``"components[1].spec.sigma"``, ``"cdf"``, ``"type"``); `message` states the rule that was broken.
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __reduce__(self):  # keep pickling (Celery results) working with the two-argument constructor
        return (type(self), (self.path, self.message))
