"""The dashboard's forms (WTForms through Flask-WTF), every message in the dashboard's catalog.

CSRF is checked for every POST before a view runs (``setup.guard``), so the forms themselves do not
check it again; templates put ``csrf_token()`` in each form.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from .accounts import MAX_PASSWORD, MIN_PASSWORD

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - WTForms < 3.3
    SelectChoice = None
from .i18n import LABELS, LANGUAGE_NAMES

REQUIRED = _l("This field is required.")
EMAIL_MESSAGE = _l("Enter an email address such as ana@example.com.")
TOO_LONG = _l("At most %(max)d characters.")


class Form(FlaskForm):
    class Meta:
        csrf = False


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def email_field(label: str) -> StringField:
    return StringField(
        label,
        [
            DataRequired(REQUIRED),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=EMAIL_MESSAGE),
            Length(max=320, message=TOO_LONG),
        ],
        filters=[strip],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )


def password_field(label: str, required: bool = True) -> PasswordField:
    message = _l("Use %(min)d to %(max)d characters.", min=MIN_PASSWORD, max=MAX_PASSWORD)
    first = DataRequired(REQUIRED) if required else Optional()
    return PasswordField(label, [first, Length(MIN_PASSWORD, MAX_PASSWORD, message)])


def option(value: str, text: object) -> Any:
    # WTForms 3.3 deprecates (value, label) pairs in favour of SelectChoice, which older releases lack
    return SelectChoice(value, text) if SelectChoice is not None else (value, text)


def translated(group: str) -> dict[str, object]:
    """A vocabulary's values with their labels, translated when the form is rendered."""
    return {value: _l(msgid) for value, msgid in LABELS[group].items()}


def choice(label: str, values: dict[str, object], default: str | None = None) -> SelectField:
    options = [option(k, v) for k, v in values.items()]
    message = _l("Choose one of the options.")
    return SelectField(label, [AnyOf(list(values), message=message)], choices=options, default=default,
                       validate_choice=False)  # fmt: skip


class LoginForm(Form):
    email = StringField(_l("Email"), [DataRequired(REQUIRED)], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), [DataRequired(REQUIRED)], render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SaveForm(Form):
    source = HiddenField(validators=[DataRequired(REQUIRED)])
    external_id = HiddenField(validators=[DataRequired(REQUIRED)])
    amount = StringField(
        _l("Recurring amount kept"),
        [DataRequired(REQUIRED), Length(max=40, message=TOO_LONG)],
        render_kw={"inputmode": "decimal", "placeholder": "49.00"},
    )
    currency = StringField(
        _l("Currency"),
        [DataRequired(REQUIRED), Regexp(r"^[A-Za-z]{3}$", message=_l("A three-letter ISO 4217 code such as USD."))],
        render_kw={"maxlength": 3, "autocapitalize": "characters"},
    )
    interval = choice(_l("Billed"), translated("interval"), "month")
    reason = TextAreaField(_l("Why the customer wanted to leave"), [Optional(), Length(max=500, message=TOO_LONG)])
    offer = StringField(_l("What kept them (offer)"), [Optional(), Length(max=500, message=TOO_LONG)])


class UserForm(Form):
    email = email_field(_l("Email"))
    name = StringField(_l("Name"), [Optional(), Length(max=200, message=TOO_LONG)])
    role = choice(_l("Role"), translated("role"), "agent")
    password = password_field(_l("Password"))


class UserChangeForm(Form):
    role = choice(_l("Role"), translated("role"))
    active = BooleanField(_l("Active"))
    password = password_field(_l("New password (leave empty to keep)"), required=False)


class TokenForm(Form):
    name = StringField(
        _l("Token name"),
        [DataRequired(REQUIRED), Length(max=100, message=TOO_LONG),
         Regexp(r"^[\w .:@-]+$", message=_l("Letters, digits, spaces and . : @ - _ only."))],
    )  # fmt: skip


class LanguageForm(Form):
    language = choice(_l("Language"), dict(LANGUAGE_NAMES))
    next = HiddenField()
