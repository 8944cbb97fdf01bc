"""Errors a caller can act on; the HTTP layer turns each into a 4xx."""
from marshmallow import ValidationError


class CampaignError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self):
        return {"code": self.code, "message": self.message, **self.details}


class InvalidInput(CampaignError):
    """``fields`` maps each bad field to its problems; ``rows`` lists bad lines of a file."""

    status = 422
    code = "invalid_input"


class NotFound(CampaignError):
    status = 404
    code = "not_found"


class Conflict(CampaignError):
    status = 409
    code = "conflict"


def describe_fields(messages):
    """'full_name: Missing data for required field.; category: ...' from marshmallow messages."""
    parts = []
    for field, problems in sorted(messages.items()):
        if isinstance(problems, dict):
            problems = [f"{k}: {v}" for k, v in problems.items()]
        parts.append(f"{field}: {' '.join(str(p) for p in problems)}")
    return "; ".join(parts)


def validated(schema, data):
    """``schema.load(data)``, or InvalidInput naming each bad field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(describe_fields(exc.messages), fields=exc.messages)
