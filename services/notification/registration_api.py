"""Registration's API, as notification calls it: over HTTP, signed in as a service account.

A committee's list holds names, so it never travels on the broker (an RPC reply
is a broker message any holder of the vhost could read): notification asks
registration's ``GET /rollouts/<id>/committee-list`` (permission
participants:read) with an access token of identity's client-credentials grant,
kept until shortly before it lapses.  Every call has a timeout; silence, or a
refusal that is not the caller's, is ``Unavailable`` (503) saying who did not answer.
"""
import threading
import time
from typing import Any

import requests

from shared.errors import NotFound, Unavailable
from shared.pagination import MAX_LIMIT

CLIENT_ID = "notification"
EARLY = 10.0  # seconds before its expiry a token is replaced


class RegistrationApi:
    def __init__(self, registration_url: str, identity_url: str, client_secret: str | None,
                 timeout: float = 10.0, client_id: str = CLIENT_ID) -> None:
        self.registration_url = registration_url.rstrip("/") + "/api/v1"
        self.identity_url = identity_url.rstrip("/") + "/api/v1"
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self._token: tuple[str, float] | None = None  # (token, monotonic time it is replaced at)
        self._lock = threading.Lock()

    def committee_list(self, rollout_id: int) -> dict[str, Any]:
        """The rollout's city, committee and participants (the committee's columns only), every page of it."""
        path = f"/rollouts/{rollout_id}/committee-list?limit={MAX_LIMIT}"
        listing = self._get(path)
        participants, cursor = listing.pop("items"), listing.pop("next_cursor")
        while cursor:  # the rollout's own fields are the same on every page
            following = self._get(f"{path}&cursor={cursor}")
            participants += following["items"]
            cursor = following["next_cursor"]
        return {**listing, "participants": participants}

    def rollout(self, rollout_id: int) -> dict[str, Any]:
        """The rollout itself (city, committee address): no one's name."""
        return self._get(f"/rollouts/{rollout_id}")

    def listing(self, rollout_id: int, with_participants: bool) -> dict[str, Any]:
        """What a delivery is built from; the participants only when it carries a list."""
        if with_participants:
            return self.committee_list(rollout_id)
        rollout = self.rollout(rollout_id)
        return {"rollout_id": rollout["id"], "city": rollout["city"], "city_name": rollout["city_name"],
                "committee_name": rollout.get("committee_name"), "committee_email": rollout.get("committee_email"),
                "participants": []}

    # --- the calls -------------------------------------------------------------------

    def _get(self, path: str) -> dict[str, Any]:
        answer = self._call(path, self._bearer())
        if answer.status_code == 401:  # the token lapsed on the way, or identity's key changed
            self._token = None
            answer = self._call(path, self._bearer())
        if answer.status_code == 404:
            raise NotFound(_message(answer) or f"{path} does not exist", field="rollout_id")
        if answer.status_code != 200:
            raise Unavailable(f"registration answered {answer.status_code} to {path}: {_message(answer)}",
                              service="registration")
        result: dict[str, Any] = answer.json()
        return result

    def _call(self, path: str, token: str) -> requests.Response:
        try:
            return requests.get(self.registration_url + path, headers={"Authorization": f"Bearer {token}"},
                                timeout=self.timeout)
        except requests.Timeout:
            raise Unavailable(f"registration did not answer within {self.timeout:g} s; try again shortly",
                              service="registration") from None
        except requests.RequestException as exc:
            raise Unavailable(f"registration could not be reached at {self.registration_url} "
                              f"({exc.__class__.__name__}); try again shortly", service="registration") from None

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                self._token = self._sign_in()
            return self._token[0]

    def _sign_in(self) -> tuple[str, float]:
        if not self.client_secret:
            raise Unavailable(f"notification has no service credentials: set {self.client_id.upper()}_CLIENT_SECRET "
                              f"(the secret of the service account {self.client_id}; docs/identity.md)",
                              service="identity")
        url = self.identity_url + "/auth/service-token"
        try:
            answer = requests.post(url, json={"client_id": self.client_id, "client_secret": self.client_secret},
                                   timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(f"identity could not be reached at {url} ({exc.__class__.__name__}); "
                              "try again shortly", service="identity") from None
        if answer.status_code == 401:
            raise Unavailable(f"identity refused the service account {self.client_id}: check "
                              f"{self.client_id.upper()}_CLIENT_SECRET", service="identity")
        if answer.status_code != 200:
            raise Unavailable(f"identity answered {answer.status_code} to the service sign-in", service="identity")
        tokens = answer.json()
        return tokens["access_token"], time.monotonic() + max(float(tokens["expires_in"]) - EARLY, 1.0)


def _message(answer: requests.Response) -> str:
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return ""
