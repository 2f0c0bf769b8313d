"""The dashboard: server-rendered pages for agents, team leads and admins, in the same Flask app.

Contract:
- Every page needs a signed-in user (``users`` table, argon2id hashes; ``helpdesk-retain user create``);
  an anonymous GET is redirected to ``/login?next=...``, any other anonymous request answers 401. Roles
  are ordered agent < lead < admin; a page above the user's role answers 403.
- Every form POST carries a CSRF token (Flask-WTF ``CSRFProtect``, app-wide); the webhook and ``/api``
  blueprints are exempt because they authenticate with signatures and bearer tokens, not cookies.
- Figures and actions come from the same service functions the JSON API calls (``digest.figures``,
  ``saves.record``, ``followups``, ``inbox``, ``tagging.risk``, ``ticketview``): the pages add no numbers
  of their own.
- Session cookies are HttpOnly, SameSite=Lax, and Secure over HTTPS (``[web] secure_cookies``); the key
  is ``[web] secret_key`` or, without one, a key generated once and kept in the database.

Modules: ``base`` (the blueprint, who is signed in, role checks), ``setup`` (session, CSRF, Babel,
proxy, headers, error pages), ``accounts`` and ``throttle`` (users, sign-in limits), ``i18n``, ``forms``,
and one module per page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Blueprint


def blueprint() -> Blueprint:
    """The ``web`` blueprint with every page registered on it."""
    from . import (  # noqa: F401 - importing a page module registers its routes
        admin,
        auth,
        customers,
        deadletters,
        digest,
        followups,
        overview,
        settings,
        setup,
        ticket,
        tickets,
    )
    from .base import bp

    return bp
