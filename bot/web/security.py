"""What the web app signs: the visitor's and the staff member's cookies, and the forms' CSRF tokens.

One secret signs everything (SALESBOT_WEB_SECRET). A cookie's value is signed, never encrypted: it
holds only a random visitor id or a staff row's id, nothing personal. A form's token is an HMAC of
who it was made for, so it needs no storage and a page made before a restart stays valid.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

VISITOR_COOKIE = "salesbot_visitor"
SESSION_COOKIE = "salesbot_session"
LANG_COOKIE = "salesbot_lang"
VISITOR_DAYS = 365  # a web customer comes back to the same conversation for this long
SESSION_HOURS = 12  # a dashboard login lasts this long
_VISITOR = re.compile(r"w[A-Za-z0-9_-]{16,40}")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_visitor() -> str:
    """A web customer's id: random (128 bits), so that it is never anyone else's chat."""
    return "w" + secrets.token_urlsafe(16)


class Signing:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the web app needs a secret to sign its cookies")
        self._visitor = URLSafeSerializer(secret, salt="salesbot-visitor")
        self._session = URLSafeTimedSerializer(secret, salt="salesbot-session")
        self._forms = hashlib.sha256(b"salesbot-csrf\x00" + secret.encode()).digest()

    # -- the web customer ------------------------------------------------------------------------
    def visitor_cookie(self, visitor: str) -> str:
        return self._visitor.dumps(visitor)

    def visitor(self, cookie: str | None) -> str | None:
        """The visitor id a cookie carries, if it is one this app signed."""
        if not cookie:
            return None
        try:
            value = self._visitor.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and _VISITOR.fullmatch(value) else None

    # -- the staff member ------------------------------------------------------------------------
    def session_cookie(self, staff_id: int) -> str:
        return self._session.dumps({"staff": staff_id})

    def session(self, cookie: str | None) -> int | None:
        """The staff id of a login session, while it is fresh and signed by this app."""
        if not cookie:
            return None
        try:
            value = self._session.loads(cookie, max_age=SESSION_HOURS * 3600)
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        staff = value.get("staff") if isinstance(value, dict) else None
        return staff if isinstance(staff, int) and not isinstance(staff, bool) else None

    # -- forms -----------------------------------------------------------------------------------
    def csrf(self, subject: str) -> str:
        """The token a form carries for whoever `subject` names ("chat:<visitor>", "staff:<id>")."""
        return hmac.new(self._forms, subject.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, subject: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(subject), str(token))
