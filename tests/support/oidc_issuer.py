"""A stand-in OpenID Connect issuer run by a test in a thread: discovery document, JWKS, tokens.

It signs with an RSA key of its own (RS256, as most issuers do) and counts how
often its keys were fetched.  ``jwks`` may be replaced to publish other keys
(e.g. identity's), so it also serves as "identity's JWKS" for key-fetching tests.
"""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid):
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


class OidcIssuer:
    def __init__(self):
        self.key = rsa_key()
        self.kid = uuid.uuid4().hex
        self.jwks = {"keys": [public_jwk(self.key, self.kid)]}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks.json",
                            "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/jwks.json":
                    issuer.fetches += 1
                    body = issuer.jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key=None, kid=None, ttl=60, **claims):
        """A token as this issuer signs one (``key``/``kid`` to sign as someone else)."""
        now = int(time.time())
        body = {"iss": self.url, "sub": "user-1", "aud": "campaign", "iat": now, "exp": now + ttl,
                "preferred_username": "siti", **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
