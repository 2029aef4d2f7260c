"""The one error shape of the admin API: ``{"errors": [{"path": "...", "message": "..."}]}``.

``path`` is a dotted camelCase field path (``conditions.messagePattern``, ``ruleIds[2]``) for
validation errors, and ``""`` when the error is about the request as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class ApiError(Exception):
    status: int
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status}: " + "; ".join(f"{e.path or '-'}: {e.message}" for e in self.errors)

    def body(self) -> dict[str, list[dict[str, str]]]:
        return {"errors": [e.as_dict() for e in self.errors]}


def error(status: int, message: str, path: str = "") -> ApiError:
    return ApiError(status, [FieldError(path, message)])


def not_found(what: str = "resource") -> ApiError:
    return error(404, f"{what} not found")


def conflict(message: str, path: str = "") -> ApiError:
    return error(409, message, path)


def invalid(path: str, message: str) -> ApiError:
    return error(422, message, path)


class Problems:
    """Collects 422 field errors, then raises them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(FieldError(path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ApiError(422, list(self.items))
