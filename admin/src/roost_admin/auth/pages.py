"""The built-in authorization server's two pages: the sign-in form of a browser login (authorization code with
PKCE), and the form where a person approves a device login. Plain HTML, every value escaped."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _error(message: str) -> str:
    return f'<p class="error">{escape(message)}</p>' if message else ""


def sign_in(action: str, hidden: Mapping[str, str], client_id: str, error: str = "") -> str:
    """The sign-in form of a browser login for ``client_id``."""
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in hidden.items()
    )
    return _page(
        "Sign in to Roost",
        f"<p>{escape(client_id)} asks to act on your behalf.</p>{_error(error)}"
        f'<form method="post" action="{escape(action)}">{fields}'
        '<label for="username">Username</label><input id="username" name="username" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form>',
    )


def device(action: str, user_code: str = "", error: str = "", done: str = "") -> str:
    """The device-login approval form (or, once done, what happened)."""
    if done:
        return _page("Device login", f"<p>{escape(done)}</p>")
    return _page(
        "Device login",
        f"<p>Enter the code your terminal shows, and sign in to approve it.</p>{_error(error)}"
        f'<form method="post" action="{escape(action)}">'
        f'<label for="user_code">Code</label><input id="user_code" name="user_code" value="{escape(user_code)}" required>'
        '<label for="username">Username</label><input id="username" name="username" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<button type="submit" name="decision" value="approve">Approve</button> '
        '<button type="submit" name="decision" value="deny">Deny</button></form>',
    )


def message(title: str, text: str) -> str:
    """A page that only says something (an invalid request that cannot be sent back to the client)."""
    return _page(title, f"<p>{escape(text)}</p>")


def message_with_link(title: str, text: str, href: str, label: str) -> str:
    """A page that says something and offers one link (sign in again)."""
    return _page(title, f'<p>{escape(text)}</p><p><a href="{escape(href)}">{escape(label)}</a></p>')
