"""Users and API tokens (admins). Tokens are created with ``tokens.create_token`` (shown once, stored as
a hash) like ``helpdesk-retain token create``; revoking one deletes it."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..db import session_scope
from ..events import utcnow
from ..models import ApiToken
from ..models.users import User
from ..tokens import create_token
from . import accounts
from .base import bp, current_user, requires, runtime
from .forms import TokenForm, UserChangeForm, UserForm


def all_users() -> list[User]:
    with session_scope(runtime().sessions) as session:
        return list(session.execute(select(User).order_by(User.email)).scalars())


@bp.get("/admin/users")
@requires("admin")
def users(form: UserForm | None = None, status: int = 200) -> Any:
    rows = all_users()
    forms = {u.id: UserChangeForm(formdata=None, role=u.role, active=u.active) for u in rows}
    return render_template("web/users.html", users=rows, form=form or UserForm(formdata=None), forms=forms), status


@bp.post("/admin/users")
@requires("admin")
def create_user() -> Any:
    form = UserForm()
    if not form.validate():
        return users(form, 422)
    try:
        with session_scope(runtime().sessions) as session:
            accounts.create_user(session, form.email.data, form.role.data, form.password.data, utcnow(), form.name.data)
    except (accounts.AccountError, IntegrityError):
        form.email.errors = [*form.email.errors, _("This email has an account already.")]
        return users(form, 422)
    flash(_("User %(email)s created.", email=form.email.data.strip().lower()), "success")
    return redirect(url_for("web.users"))


@bp.post("/admin/users/<int:user_id>")
@requires("admin")
def change_user(user_id: int) -> Any:
    form = UserChangeForm()
    if not form.validate():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("web.users"))
    me, now = current_user(), utcnow()
    with session_scope(runtime().sessions) as session:
        user = session.get(User, user_id)
        if user is None:
            abort(404)
        demoting = user.role == "admin" and user.active and (form.role.data != "admin" or not form.active.data)
        if demoting and accounts.active_admins(session) <= 1:
            flash(_("%(email)s is the last admin and keeps that role.", email=user.email), "error")
            return redirect(url_for("web.users"))
        changed = accounts.change(user, now, role=form.role.data, active=form.active.data)
        if form.password.data:
            accounts.set_password(user, form.password.data, now)
            changed = True
        email = user.email
    if changed:
        flash(_("%(email)s updated; their sessions have ended.", email=email), "success")
    if changed and user_id == me.id:
        return redirect(url_for("web.login"))
    return redirect(url_for("web.users"))


def all_tokens() -> list[ApiToken]:
    with session_scope(runtime().sessions) as session:
        return list(session.execute(select(ApiToken).order_by(ApiToken.name)).scalars())


@bp.get("/admin/tokens")
@requires("admin")
def tokens() -> str:
    return render_template("web/tokens.html", tokens=all_tokens(), form=TokenForm(formdata=None), created=None)


@bp.post("/admin/tokens")
@requires("admin")
def create_api_token() -> Any:
    form = TokenForm()
    created = None
    if form.validate():
        try:
            with session_scope(runtime().sessions) as session:
                created = create_token(session, form.name.data.strip(), utcnow())
        except IntegrityError:
            form.name.errors = [*form.name.errors, _("A token with this name exists already.")]
    status = 201 if created else 422
    body = render_template("web/tokens.html", tokens=all_tokens(), form=form, created=created)
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/admin/tokens/<int:token_id>/revoke")
@requires("admin")
def revoke_token(token_id: int) -> Response:
    with session_scope(runtime().sessions) as session:
        name = session.execute(select(ApiToken.name).where(ApiToken.id == token_id)).scalar_one_or_none()
        if name is None:
            abort(404)
        session.execute(delete(ApiToken).where(ApiToken.id == token_id))
    flash(_("Token %(name)s revoked.", name=name), "success")
    return redirect(url_for("web.tokens"))
