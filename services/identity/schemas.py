"""What crosses identity's boundary: sign-in, tokens, accounts (never a password hash)."""
from marshmallow import Schema, fields, validate

from shared.auth import ROLES
from shared.pagination import page_of

ROLE = validate.OneOf(list(ROLES))


class SignInIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000), load_only=True)


class ServiceTokenIn(Schema):
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=60))
    client_secret = fields.String(required=True, validate=validate.Length(min=1, max=1000), load_only=True)


class ServiceTokenOut(Schema):
    access_token = fields.String(required=True, metadata={"description": "Send as Authorization: Bearer <token>"})
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token lives"})


class RefreshIn(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class AccountOut(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String()
    role = fields.String(required=True)
    cities = fields.List(fields.String(), required=True, metadata={"description": '"*": every city'})
    enabled = fields.Boolean(required=True)
    created_by = fields.String()
    created_at = fields.DateTime(required=True)
    changed_at = fields.DateTime(required=True)


AccountPage = page_of(AccountOut)


class TokensOut(Schema):
    access_token = fields.String(required=True, metadata={"description": "Send as Authorization: Bearer <token>"})
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token lives"})
    refresh_token = fields.String(required=True, metadata={"description": "Buys the next tokens, once"})
    refresh_expires_in = fields.Integer(required=True)
    account = fields.Nested(AccountOut, required=True)


class AccountIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=3, max=60))
    password = fields.String(required=True, validate=validate.Length(min=12, max=1000), load_only=True)
    role = fields.String(required=True, validate=ROLE)
    cities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list)
    display_name = fields.String(load_default=None, validate=validate.Length(max=200))


class GrantIn(Schema):
    role = fields.String(required=True, validate=ROLE)
    cities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list)


class FirstAccountIn(Schema):
    bootstrap_token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    username = fields.String(required=True, validate=validate.Length(min=3, max=60))
    password = fields.String(required=True, validate=validate.Length(min=12, max=1000), load_only=True)
    display_name = fields.String(load_default=None, validate=validate.Length(max=200))


class KeysOut(Schema):
    keys = fields.List(fields.Dict(), required=True, metadata={"description": "JSON Web Keys (RFC 7517)"})


class Done(Schema):
    done = fields.Boolean(required=True)
