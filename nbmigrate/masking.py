"""The one masker: every text nbmigrate shows passes :func:`mask` on its way out.

A password is masked where it stands as a password, known or not:

* in a URL's userinfo, ``scheme://user:PASSWORD@host``, even malformed (a password holding an
  unencoded ``/``, ``@``, ``:``, ``%``, ``#``, ``?``, ``&`` or any other character but a space):
  the password runs to the last ``@`` that is followed by a host;
* as the value of a key that names a password: ``password=...`` and ``PWD=...;`` (libpq and ODBC
  connection strings, URL queries), ``"password": "..."`` and ``'password': '...'`` (dicts, JSON,
  SQLAlchemy's ``[parameters: ...]``), and SQL's ``PASSWORD '...'`` / ``IDENTIFIED BY '...'``.

A password nbmigrate was given (the URL of a project or of ``connect``, see :func:`remember`) is
masked further, by how strong it is:

* a **strong** one is masked wherever it appears, in every encoding (``%``-escaped, ``+`` for
  spaces, ini-escaped ``%%``, HTML, JSON, SQL's ``''``): no code or name is spelled like it.
  :func:`is_strong` says which: not shaped like a word, a name or a number (letters and
  underscores with digits at the end only, or digits only), and either at least 8 characters
  long or at least 4 with a symbol in it (``S3cr@t``, ``p@ss``; ``a8Fh3kLq92xZ``). Shorter ones,
  and letters and digits mixed in fewer than 8 characters (``1a2b``, a piece of many revision
  ids), would be found inside other words;
* a **weak** one (``pass``, ``user``, ``admin``, ``postgres``, ``Summer2024``) is masked only in the
  positions above and as a whole value in a SQL parameter listing (``[parameters: ('user',)]``):
  elsewhere it is a ``pass`` statement, a table called ``user``, a column called ``admin``, and
  rewriting those would corrupt the output while protecting nothing.

The passwords are known process-wide, so a rendering that does not know its project (a schema
table, a widget) masks them too. :func:`mask_exception` masks an exception's own text (message,
statement, parameters, notes, and those of its causes) for tracebacks.
"""

from __future__ import annotations

import html
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

__all__ = [
    "MASK",
    "is_strong",
    "mask",
    "mask_exception",
    "mask_lines",
    "mask_parameters",
    "mask_url_passwords",
    "mask_value",
    "remember",
    "remember_url",
]

MASK = "***"

# -- where a password stands, known or not ----------------------------------------------------

# scheme://user:PASSWORD@host. The password is as long as it can be: it ends at the last "@"
# followed by a host (a name, an address, [IPv6], a port) and then the end of the URL's authority.
# No "<" or ">": in HTML those end a text, and a password's own are escaped there. (The pattern
# starts at "://", which the regex engine finds fast; what comes before it is kept anyway.)
_URL_PASSWORD = re.compile(
    r"(://[^\s:/@<>'\"]*:)"
    r"([^\s<>]+)"
    r"(?=@[\w.~%\[\]:-]*(?:[/?#\s'\"<>),;\]}&|\\]|$))"
)

# "password": "...", 'db_password'='...', PASSWORD = '...': a quoted value after a key naming a
# password. ("pwd" only in connection strings, below: quoted, as in {"pwd": ...}, it is as often
# the working directory.) A value that starts or ends with a space is code between two literals
# ("password=" + pw + " x"), not a value.
_QUOTED_PAIR = re.compile(
    r"""(?ix)
    (passw(?:or)?d["']?\s*[:=]\s*b?)
    (?:"(?!\s)((?:[^"\\\n]|\\.)+)(?<!\s)"|'(?!\s)((?:[^'\\\n]|\\.)+)(?<!\s)')
    """
)

# password=secret in a connection string or a query (host=db password=secret, ...;PWD=secret;,
# ?password=secret&): no spaces around "=", the value ends the pair, and the key starts the
# text or follows a space, ";", "?", "&" or a quote (see _bare_pair). Keyword arguments in code
# (f(password=pw, ...), password=os.environ[...]) and placeholders ("PWD=%s", password=$PW) are
# not such pairs and are left alone.
_BARE_PAIR = re.compile(
    r"""(?ix)
    ((?:passw(?:or)?d|pwd)=)
    (?![%$])(?!(?:true|false|none)(?=[\s;&'"]|$))
    ([^\s;&'"()\[\]{},]+)
    (?=[\s;&'"]|$)
    """
)
_PAIR_STARTS = frozenset(" \t\n\r\f\v;?&'\"")

# SQL that sets a password: CREATE ROLE ... PASSWORD '...', ALTER USER ... IDENTIFIED BY '...'
# (after USER, ROLE or GRANT only: "revision identified by '0001'" is Alembic's message).
_SQL_PASSWORD = re.compile(
    r"""(?ix)
    \b((?:password|(?:user|role|grant)\b[^\n]*?\bidentified(?:\s+with\s+\w+)?\s+(?:by|as)(?:\s+password)?)
    (?:\s+|\s*\(\s*))
    '((?:[^'\n]|'')+)'
    """
)

# SQLAlchemy's listing of a statement's parameters, one line.
_PARAMETERS = re.compile(r"\[(?:SQL )?parameters: [^\n]*")

# A password shaped like a word or a name: letters and underscores, digits at the end only
# (user, first_name, Summer2024, 12345678). Such strings are everywhere in code and SQL.
_WORDLIKE = re.compile(r"[^\W\d]*\d*")
_SYMBOL = re.compile(r"[^\w]")
STRONG_LENGTH = 8  # letters and digits mixed, no symbol
STRONG_LENGTH_WITH_SYMBOL = 4

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def is_strong(password: str) -> bool:
    """Whether ``password`` is masked wherever it appears: not shaped like a name, and long enough."""
    if _WORDLIKE.fullmatch(password):
        return False
    if _SYMBOL.search(password):
        return len(password) >= STRONG_LENGTH_WITH_SYMBOL
    return len(password) >= STRONG_LENGTH


def _forms(password: str) -> set[str]:
    """``password`` in every encoding it can be shown in."""
    forms = {
        password,
        urllib.parse.quote(password, safe=""),
        urllib.parse.quote(password),
        urllib.parse.quote_plus(password),
    }
    # "%" doubled: as an ini file escapes it, and as pyformat drivers (psycopg, PyMySQL) show a
    # literal "%" in the SQL they ran.
    forms |= {form.replace("%", "%%") for form in forms}
    escaped = {
        password.replace("'", "''"),  # in a SQL string literal
        password.replace("\\", "\\\\").replace("'", "\\'"),  # in a Python repr
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
    }
    forms |= escaped
    forms |= {html.escape(form) for form in forms}
    forms |= {form.encode("ascii", "xmlcharrefreplace").decode("ascii") for form in set(forms)}
    return {form for form in forms if form}


class Masker:
    """The known passwords and the patterns that find them; :func:`mask` uses the process's one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passwords: set[str] = set()
        self._weak: frozenset[str] = frozenset()
        self._strong: re.Pattern[str] | None = None

    def remember(self, password: str) -> None:
        """Know ``password`` from now on (see the module's docstring for where it is masked)."""
        if not password or password in self._passwords:
            return
        with self._lock:
            self._passwords.add(password)
            strong = sorted(
                {form for p in self._passwords if is_strong(p) for form in _forms(p)}, key=len, reverse=True
            )
            weak = frozenset(form for p in self._passwords if not is_strong(p) for form in _forms(p))
            pattern = re.compile("|".join(map(re.escape, strong))) if strong else None
            # Swapped whole, so a mask running in another thread sees the old set or the new.
            self._strong, self._weak = pattern, weak

    def mask(self, text: str) -> str:
        """``text`` with every password in it masked."""
        if not text:
            return text
        strong, weak = self._strong, self._weak
        if strong is not None:
            # First: the URL pattern cannot tell where a password with an unencoded "@" ends.
            text = strong.sub(MASK, text)
        # Each pattern only where its key word is: most texts hold none, and a long one (a
        # history's HTML) is looked through once per word, not once per pattern and character.
        if "://" in text:
            text = mask_url_passwords(text)
        lower = text.lower()
        if "passw" in lower or "pwd=" in lower:
            text = _QUOTED_PAIR.sub(_masked_pair, text)
            text = _BARE_PAIR.sub(_masked_bare_pair, text)
        if "password" in lower or "identified" in lower:
            text = _SQL_PASSWORD.sub(lambda m: f"{m.group(1)}'{MASK}'", text)
        if weak and "parameters: " in text:
            text = _PARAMETERS.sub(lambda m: _mask_listed(m.group(0), weak), text)
        return text

    def is_known(self, value: str) -> bool:
        """Whether ``value`` is, whole, a known password in one of its forms."""
        if value in self._weak:
            return True
        strong = self._strong
        return strong is not None and strong.fullmatch(value) is not None


def _masked_bare_pair(match: re.Match[str]) -> str:
    """A ``key=value`` pair with its value masked, when the key starts a pair (not ``f(password=pw)``)."""
    text, start = match.string, match.start()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1  # back to the key's first character: PGPASSWORD=, db.password=
    if start > 0 and text[start - 1] not in _PAIR_STARTS:
        return match.group(0)
    return match.group(1) + MASK


def _masked_pair(match: re.Match[str]) -> str:
    quote = '"' if match.group(2) is not None else "'"
    return f"{match.group(1)}{quote}{MASK}{quote}"


def _mask_listed(listing: str, weak: frozenset[str]) -> str:
    """A parameter listing with each quoted value that is a known weak password masked."""

    def one(match: re.Match[str]) -> str:
        quote, value = match.group(1), match.group(2)
        return f"{quote}{MASK}{quote}" if value in weak else match.group(0)

    return re.sub(r"""(['"])((?:(?!\1)[^\\]|\\.)*)\1""", one, listing)


_MASKER = Masker()


def remember(password: str | None) -> None:
    """Know ``password`` from now on: every output of this process masks it."""
    if password:
        _MASKER.remember(str(password))


def remember_url(url: Any) -> None:
    """Know the password of a database URL (a string or ``sqlalchemy.URL``), if it has one."""
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password if url else None
    except Exception:  # not a URL: nothing to know; a URL pattern still masks what it shows
        return
    remember(str(password) if password else None)


def mask(text: str) -> str:
    """``text`` with every password in it masked: the one masker all output goes through."""
    return _MASKER.mask(text)


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it masked (``scheme://user:***@host``)."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(r"\1" + MASK, text)


def mask_value(value: Any) -> Any:
    """``value`` with its strings masked, through lists, tuples and dicts (widget state, ...)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v) for v in value) if type(value) in (list, tuple) else value
    return value


def mask_parameters(params: Any) -> Any:
    """A statement's parameters with each value that is a known password masked whole."""
    if isinstance(params, str):
        return MASK if _MASKER.is_known(params) else mask(params)
    if isinstance(params, dict):
        return {k: mask_parameters(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)) and type(params) in (list, tuple):
        return type(params)(mask_parameters(v) for v in params)
    return params


def mask_exception(exc: BaseException) -> BaseException:
    """Mask the text ``exc`` shows, in place, with its causes and contexts; returns ``exc``.

    The exception keeps its type and traceback (``except`` clauses and ``%debug`` still work);
    what ``str()`` of it and of its chain shows is masked: the arguments, SQLAlchemy's statement,
    parameters and details, and notes.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        _mask_own_text(current)
        orig = getattr(current, "orig", None)
        todo += [current.__cause__, current.__context__, orig if isinstance(orig, BaseException) else None]
    return exc


def _mask_own_text(exc: BaseException) -> None:
    try:
        exc.args = tuple(mask_value(arg) if isinstance(arg, str) else arg for arg in exc.args)
        if isinstance(getattr(exc, "statement", None), str):
            exc.statement = mask(exc.statement)  # type: ignore[attr-defined]
        if getattr(exc, "params", None) is not None:
            exc.params = mask_parameters(exc.params)  # type: ignore[attr-defined]
        detail = getattr(exc, "detail", None)
        if isinstance(detail, list):
            exc.detail = [mask(d) if isinstance(d, str) else d for d in detail]  # type: ignore[attr-defined]
        notes = getattr(exc, "__notes__", None)
        if isinstance(notes, list):
            exc.__notes__ = [mask(n) if isinstance(n, str) else n for n in notes]  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # read-only attributes of some C extension's exception
        pass


def mask_lines(lines: Iterable[str]) -> list[str]:
    """Lines of a (coloured) traceback, each line holding a password masked.

    A password may be split by colour codes; a line that holds one is shown masked, uncoloured.
    The other lines keep their colours.
    """
    out = []
    for chunk in lines:
        masked = []
        for line in chunk.split("\n"):
            plain = _ANSI.sub("", line)
            hidden = mask(plain)
            masked.append(line if hidden == plain and mask(line) == line else hidden)
        out.append("\n".join(masked))
    return out
