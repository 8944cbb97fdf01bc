"""What crosses the registration service's boundary, and the rules on it."""
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

# Activists attend the day-1 workshop; students the day-2 socialisation.
ACTIVIST_CATEGORIES = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak")
CATEGORIES = ACTIVIST_CATEGORIES + ("student",)
CATEGORY_LABELS = {
    "educator": "Tenaga pendidikan",
    "skpd": "SKPD",
    "patbm": "PATBM",
    "unit_ppa": "Unit PPA",
    "lsm": "LSM",
    "forum_anak": "Forum Anak",
    "student": "Pelajar",
}
AUDIENCES = ("activists", "students")
MINOR_AGE_BANDS = ("10-12", "13-15", "16-17")
AGE_BANDS = MINOR_AGE_BANDS + ("18-24", "25-39", "40-59", "60+")
# Children's forum members and students are children unless their age band says otherwise.
CHILD_CATEGORIES = ("student", "forum_anak")
CONSENT_GIVERS = ("guardian", "school")


def audience_of(category):
    return "students" if category == "student" else "activists"


def is_minor(category, age_band):
    if age_band:
        return age_band in MINOR_AGE_BANDS
    return category in CHILD_CATEGORIES


class Strict(Schema):
    class Meta:
        unknown = RAISE


class FacilitatorIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TopicIn(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    facilitators = fields.List(fields.Nested(FacilitatorIn), load_default=list)


class SessionIn(Strict):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{1,50}$"))
    day = fields.Integer(required=True, validate=validate.Range(min=1, max=14))
    date = fields.Date(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    audience = fields.String(required=True, validate=validate.OneOf(AUDIENCES))
    opened_by = fields.String(load_default=None, allow_none=True)
    topics = fields.List(fields.Nested(TopicIn), load_default=list)


class RolloutIn(Strict):
    program = fields.String(required=True, validate=validate.Length(min=1, max=200))
    city_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    province = fields.String(load_default=None, allow_none=True)
    venue = fields.String(load_default=None, allow_none=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    committee_name = fields.String(load_default=None, allow_none=True)
    committee_email = fields.Email(required=True)
    author = fields.String(load_default=None, allow_none=True)
    editor = fields.String(load_default=None, allow_none=True)
    sessions = fields.List(fields.Nested(SessionIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        if data["ends_on"] < data["starts_on"]:
            raise ValidationError("must not be before starts_on", "ends_on")
        keys = [s["key"] for s in data["sessions"]]
        if len(set(keys)) != len(keys):
            raise ValidationError("session keys must be unique", "sessions")


def _blank_to_none(value):
    return None if isinstance(value, str) and not value.strip() else value


class ParticipantIn(Strict):
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    organisation = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    sex = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["F", "M"]))
    age_band = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AGE_BANDS))
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\+?[0-9 ()-]{6,20}$"))
    consent_by = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CONSENT_GIVERS))

    @pre_load
    def blanks_are_missing(self, data, **kwargs):
        # CSV cells and forms send "" for an empty field.
        if isinstance(data, dict):
            return {k: _blank_to_none(v) for k, v in data.items()}
        return data

    @validates_schema
    def children_are_protected(self, data, **kwargs):
        if not is_minor(data.get("category"), data.get("age_band")):
            return
        errors = {}
        for field in ("email", "phone"):
            if data.get(field):
                errors[field] = ["must not be given for a minor"]
        if not data.get("consent_by"):
            errors["consent_by"] = ["a minor needs consent from a guardian or the school"]
        if errors:
            raise ValidationError(errors)


class ParticipantOut(Schema):
    id = fields.Integer()
    code = fields.String()
    rollout_id = fields.Integer()
    session_key = fields.Function(lambda p: p.session.key)
    full_name = fields.String()
    category = fields.String()
    organisation = fields.String()
    sex = fields.String()
    age_band = fields.String()
    minor = fields.Boolean()
    consent_by = fields.String()
    registered_at = fields.AwareDateTime()


class SessionOut(Schema):
    key = fields.String()
    day = fields.Integer()
    date = fields.Date()
    title = fields.String()
    audience = fields.String()
    opened_by = fields.String()
    topics = fields.List(fields.Dict())


class RolloutOut(Schema):
    id = fields.Integer()
    program = fields.String()
    city = fields.String()
    city_name = fields.String()
    province = fields.String()
    venue = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    committee_name = fields.String()
    committee_email = fields.String()
    author = fields.String()
    editor = fields.String()
    status = fields.String()
    sessions = fields.List(fields.Nested(SessionOut))


# What a committee needs to know of each participant, and no more.
COMMITTEE_LIST_FIELDS = ("code", "full_name", "category", "organisation", "session", "day")
