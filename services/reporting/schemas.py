"""What the reporting API takes in its query strings (validated by ``@api`` before a worker runs)."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.reporting.report import FORMATS, LANGUAGES
from shared.validation import id_field


class Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt parameter is named, not ignored


class CommaSeparated(fields.String):
    """``md,pdf`` as ("md", "pdf"), each one of ``choices``; documented as a string."""

    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        chosen = tuple(part.strip() for part in super()._deserialize(value, attr, data, **kwargs).split(",")
                       if part.strip())
        if not chosen or any(part not in self.choices for part in chosen):
            raise ValidationError(f"Must be a comma-separated list of {', '.join(self.choices)}.")
        return chosen


def rollout_id_field(description):
    return id_field(load_default=None, metadata={"description": description})


class FiguresQuery(Strict):
    rollout_id = rollout_id_field("One of the city's rollouts (any city's for national); "
                                  "default: every live one.")


class ReportQuery(Strict):
    lang = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "Bahasa Indonesia (id) or English (en)."})
    rollout_id = rollout_id_field("One of the city's rollouts (any city's for national); "
                                  "default: the city's latest, or the national roll-up.")


def public_field():
    return fields.Boolean(load_default=False, metadata={"description": (
        'For partners: the figures last released to the public, a cell of 1 to 4 people as "<5" and a cell '
        'hidden so that such a cell cannot be worked out as "x"; without it, the exact (internal) figures.')})


class ActivityReportQuery(ReportQuery):
    format = CommaSeparated(FORMATS, load_default=("md",), metadata={"description": "e.g. md,html,pdf"})
    public = public_field()


class ExportQuery(ReportQuery):
    public = public_field()


class DocumentQuery(ReportQuery):
    format = fields.String(load_default="pdf", validate=validate.OneOf(FORMATS),
                           metadata={"description": "The document to download: md, html or pdf."})
    public = public_field()
