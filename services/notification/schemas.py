"""What crosses the notification service's boundary."""
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from services.notification.rules import KINDS, STATUSES
from shared.pagination import PageQuery, page_of
from shared.validation import id_field


class CommitteeIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    emails = fields.List(fields.Email(), load_default=list, validate=validate.Length(max=20))
    webhook_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False)
    webhook_secret = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=16, max=200))
    list_format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))

    @validates_schema
    def reachable(self, data, **kwargs):
        if not data.get("emails") and not data.get("webhook_url"):
            raise ValidationError("a committee needs at least one mail address or a webhook URL", "emails")
        if data.get("webhook_url") and not data.get("webhook_secret"):
            raise ValidationError("a webhook needs a secret (16 characters or more) to sign with",
                                  "webhook_secret")


class CommitteeOut(Schema):
    rollout_id = fields.Integer()
    city = fields.String()
    name = fields.String(allow_none=True)
    emails = fields.List(fields.String())
    webhook_url = fields.String(allow_none=True)
    webhook_enabled = fields.Boolean()
    list_format = fields.String()
    updated_at = fields.AwareDateTime()
    # The secret never leaves the service: only whether one is set.
    webhook_secret_set = fields.Boolean()


class CommitteeSideOut(Schema):
    name = fields.String(allow_none=True)
    emails = fields.List(fields.String())
    webhook_url = fields.String(allow_none=True)
    webhook_enabled = fields.Boolean()
    list_format = fields.String()
    webhook_secret_set = fields.Boolean()


class CommitteeChangeOut(Schema):
    """Who set or changed a committee, when, before and after (never a secret)."""

    id = fields.Integer()
    rollout_id = fields.Integer()
    city = fields.String()
    changed_by = fields.String()
    changed_at = fields.AwareDateTime()
    before = fields.Nested(CommitteeSideOut, allow_none=True)
    after = fields.Nested(CommitteeSideOut)
    redirects = fields.Boolean(metadata={"description": "the addresses changed: the previous ones were told"})


class AttemptOut(Schema):
    attempted_at = fields.AwareDateTime()
    outcome = fields.String()
    detail = fields.String(allow_none=True)


class DeliveryOut(Schema):
    id = fields.Integer()
    rollout_id = fields.Integer()
    city = fields.String()
    kind = fields.String()
    channel = fields.String()
    status = fields.String()
    recipient = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)
    participant_count = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    resends = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    next_attempt_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    attempt_log = fields.List(fields.Nested(AttemptOut), dump_default=None)


class DisclosureOut(Schema):
    delivery_id = fields.Integer()
    rollout_id = fields.Integer()
    kind = fields.String()
    recipient = fields.String()
    channel = fields.String()
    disclosed_at = fields.AwareDateTime()


class AlertOut(Schema):
    id = fields.Integer()
    rollout_id = fields.Integer()
    city = fields.String()
    delivery_id = fields.Integer(allow_none=True)
    reason = fields.String()
    message = fields.String()
    raised_at = fields.AwareDateTime()


class AcknowledgeIn(Schema):
    """The token from the committee's mail, in the body: a query string ends up in access logs."""

    class Meta:
        unknown = RAISE

    token = fields.String(required=True, validate=validate.Length(min=1, max=64))


class Query(PageQuery):
    """A list's query string: its page, and filters where an empty value is the same as leaving it out."""

    class Meta:
        unknown = RAISE

    @pre_load
    def drop_empty(self, data, **kwargs):
        return {name: value for name, value in data.items() if value not in (None, "")}


class DeliveryQuery(Query):
    rollout_id = id_field(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    city = fields.String(load_default=None, validate=validate.Length(max=100))


class AlertQuery(Query):
    rollout_id = id_field(load_default=None)


CommitteeChangePage = page_of(CommitteeChangeOut)
DeliveryPage = page_of(DeliveryOut)
DisclosurePage = page_of(DisclosureOut)
AlertPage = page_of(AlertOut)
