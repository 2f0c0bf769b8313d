"""Signing in and out, and the language switch."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh

from ..db import session_scope
from ..events import utcnow
from ..models.users import User
from . import accounts, throttle
from .base import bp, load_user, public, runtime, safe_next
from .forms import LanguageForm, LoginForm


@bp.get("/login")
@public
def login() -> Response | str:
    if load_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm(next=safe_next(request.args.get("next")))
    return render_template("web/login.html", form=form)


@bp.post("/login")
@public
def login_post() -> Response | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if not form.validate():
        return render_template("web/login.html", form=form), 400, {}
    rt, now = runtime(), utcnow()
    email = form.email.data.strip().lower()
    with session_scope(rt.sessions) as db:
        attempt = throttle.begin(db, email, request.remote_addr, now)  # committed before counting
    with session_scope(rt.sessions) as db:
        wait = throttle.refused_for(db, rt.settings.web, attempt, now)
        if wait is not None:
            throttle.forget(db, attempt, succeeded=False)
        user = accounts.find_user(db, email) if wait is None else None
    if wait is not None:
        message = _("Too many failed sign-ins. Try again in %(minutes)d minutes.", minutes=-(-wait // 60))
        return render_template("web/login.html", form=form, error=message), 429, {"Retry-After": str(wait)}
    verified = accounts.verify_password(user, form.password.data)  # slow on purpose: outside a transaction
    with session_scope(rt.sessions) as db:
        if not verified or user is None:
            throttle.prune(db, rt.settings.web, now)
            error = _("Wrong email or password.")
            return render_template("web/login.html", form=form, error=error), 401, {}
        throttle.forget(db, attempt, succeeded=True)
        row = db.get(User, user.id)
        if row is None or not row.active:
            return redirect(url_for("web.login"))
        accounts.signed_in(row, form.password.data, now)
        start_session(row)
    return redirect(safe_next(form.next.data))


def start_session(user: User) -> None:
    session.clear()  # a new session (and CSRF token) for the signed-in user
    session.permanent = True
    session["uid"], session["epoch"] = user.id, user.session_epoch
    g.user = user


@bp.post("/logout")
def logout() -> Response:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    return redirect(url_for("web.login"))


@bp.post("/language")
@public
def set_language() -> Response:
    """Store the chosen language on the user (or, before signing in, in the session)."""
    form = LanguageForm()
    if form.validate():
        user = load_user()
        if user is not None:
            with session_scope(runtime().sessions) as db:
                row = db.get(User, user.id)
                if row is not None:
                    accounts.set_language(row, form.language.data, utcnow())
                    g.user = row
        session["lang"] = form.language.data
        refresh()
        flash(_("Language changed."), "info")
    return redirect(safe_next(form.next.data, url_for("web.overview")))
