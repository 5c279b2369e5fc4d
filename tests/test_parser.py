"""The ``%migrate`` grammar: Alembic's own parser in-process, nbmigrate's verbs, and its errors.

No shell and no database here: :func:`nbmigrate.parser.parse` turns a line into an
:class:`~nbmigrate.parser.Invocation`, and every mistake is a :class:`BadArguments` whose
message says what to type.
"""

from __future__ import annotations

import contextlib
import inspect
import io

import alembic.command
import pytest

from nbmigrate import commands
from nbmigrate.errors import BadArguments
from nbmigrate.parser import Invocation, parse, resolve_target, run_line
from nbmigrate.results import HelpResult

ALEMBIC_VERBS = (
    "init revision upgrade downgrade current history heads branches show stamp merge check "
    "ensure_version list_templates edit".split()
)
OWN_VERBS = ("connect", "graph", "schema")
# Options nbmigrate adds to some verbs; they are not arguments of the Alembic command.
NBMIGRATE_OPTIONS = {"preview", "no_schema", "tables", "db_schema", "engine"}


def _alembic_accepts(line: str) -> bool:
    """Whether the installed Alembic's own command line accepts ``line``."""
    from alembic.config import CommandLine

    parser = CommandLine().parser
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(line.split())
    except SystemExit:
        return False
    return True


def bad(line: str, *fragments: str) -> str:
    with pytest.raises(BadArguments) as caught:
        parse(line)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# -- Alembic's grammar, exactly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command", "arguments"),
    [
        ("upgrade head", "upgrade", {"revision": "head", "sql": False, "tag": None}),
        ("upgrade +2 --tag t", "upgrade", {"revision": "+2", "tag": "t"}),
        ("upgrade ae10+1", "upgrade", {"revision": "ae10+1"}),
        ("upgrade side@head", "upgrade", {"revision": "side@head"}),
        ("upgrade a:b --sql", "upgrade", {"revision": "a:b", "sql": True}),
        ("downgrade -1", "downgrade", {"revision": "-1"}),
        ("downgrade base", "downgrade", {"revision": "base"}),
        ("stamp a b --purge --sql --tag t", "stamp", {"revisions": ["a", "b"], "purge": True, "sql": True, "tag": "t"}),
        ("history -r a:b -v -i", "history", {"rev_range": "a:b", "verbose": True, "indicate_current": True}),
        ("history", "history", {"rev_range": None, "verbose": False}),
        ("heads --resolve-dependencies -v", "heads", {"resolve_dependencies": True, "verbose": True}),
        ("branches -v", "branches", {"verbose": True}),
        ("show ae10", "show", {"rev": "ae10"}),
        ("edit head", "edit", {"rev": "head"}),
        ("check", "check", {}),
        ("ensure_version --sql", "ensure_version", {"sql": True}),
        ("list_templates", "list_templates", {}),
        ("merge a b -m 'join' --rev-id m1 --branch-label x", "merge",
         {"revisions": ["a", "b"], "message": "join", "rev_id": "m1", "branch_label": "x"}),
        ('revision -m "hello world" --autogenerate --head base --splice --branch-label x --rev-id r1 '
         "--depends-on d --version-path p", "revision",
         {"message": "hello world", "autogenerate": True, "head": "base", "splice": True, "branch_label": "x",
          "rev_id": "r1", "depends_on": ["d"], "version_path": "p"}),
        ("init", "init", {"directory": "migrations", "template": "nbmigrate", "package": False}),
        ("init -t generic elsewhere --package", "init", {"directory": "elsewhere", "template": "generic", "package": True}),
        ("connect sqlite:///x.db", "connect", {"target": "sqlite:///x.db"}),
        ("graph -r a:b --engine dot", "graph", {"rev_range": "a:b", "engine": "dot"}),
        ("schema user address --db-schema public", "schema", {"tables": ["user", "address"], "db_schema": "public"}),
        ("upgrade head --preview --no-schema", "upgrade", {"preview": True, "no_schema": True}),
    ],
)
def test_lines_parse_as_alembic_reads_them(line: str, command: str, arguments: dict) -> None:
    invocation = parse(line)
    assert invocation.command == command
    for key, value in arguments.items():
        assert invocation.arguments[key] == value, key


def test_options_alembic_added_later_follow_the_installed_alembic() -> None:
    """``current --check-heads`` (Alembic 1.17): accepted exactly when Alembic's own parser accepts it."""
    if _alembic_accepts("current --check-heads"):
        assert parse("current --check-heads").arguments["check_heads"] is True
    else:
        bad("current --check-heads", "unrecognized arguments")


def test_project_options() -> None:
    invocation = parse("-c conf/a.ini -c pyproject.toml -n other -x k=v -x flag=1 current")
    assert invocation.config == ["conf/a.ini", "pyproject.toml"]
    assert invocation.name == "other" and invocation.x == ["k=v", "flag=1"]
    plain = parse("current")
    assert plain.config is None and plain.name == "alembic" and plain.x == [] and not plain.raiseerr


@pytest.mark.parametrize("verb", ALEMBIC_VERBS)
def test_every_alembic_option_reaches_the_command(verb: str) -> None:
    """What the parser produces for a verb binds to ``nbmigrate.commands.<verb>`` (and Alembic's)."""
    required = {
        "revision": "", "upgrade": " head", "downgrade": " -1", "show": " head", "edit": " head",
        "stamp": " head", "merge": " heads", "init": "",
    }
    invocation = parse(verb + required.get(verb, ""))
    arguments = {k: v for k, v in invocation.arguments.items() if k not in NBMIGRATE_OPTIONS}
    ours = inspect.signature(getattr(commands, verb))
    ours.bind(None, **arguments)  # raises TypeError if an option has no parameter
    theirs = set(inspect.signature(getattr(alembic.command, verb)).parameters) - {"config"}
    if verb == "stamp":  # named after the command line's positional, as Alembic's CLI does
        theirs = theirs - {"revision"} | {"revisions"}
    assert theirs <= set(ours.parameters), f"nbmigrate.commands.{verb} lacks {theirs - set(ours.parameters)}"


def test_raiseerr_before_or_after_the_command() -> None:
    assert parse("--raiseerr upgrade head").raiseerr
    after = parse("upgrade head --raiseerr")
    assert after.raiseerr and after.arguments["revision"] == "head"
    assert parse("-x a=1 upgrade --raiseerr head").arguments["revision"] == "head"
    # As the value of an option it is a value, not the flag.
    message = parse("revision -m=--raiseerr")
    assert message.arguments["message"] == "--raiseerr" and not message.raiseerr


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["", "--help", "-h"])
def test_help_lists_every_verb(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    invocation = parse(line)
    assert invocation.command == "help"
    for verb in (*ALEMBIC_VERBS, *OWN_VERBS):
        assert verb in (invocation.help_text or "")
    assert capsys.readouterr() == ("", "")


def test_verb_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    upgrade = parse("upgrade --help")
    assert upgrade.command == "help" and "--sql" in upgrade.help_text and "--preview" in upgrade.help_text
    assert "nbmigrate; see list_templates" in (parse("init -h").help_text or "")
    version = parse("--version")
    assert version.command == "help" and alembic.__version__ in (version.help_text or "")
    result = run_line("--help")
    assert isinstance(result, HelpResult) and "upgrade" in str(result) and "upgrade" in result._repr_html_()
    assert capsys.readouterr() == ("", "")


# -- mistakes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("upgrad", "upgrade"), ("histroy", "history"), ("curent", "current"), ("donwgrade", "downgrade"),
     ("conect", "connect"), ("ensure-version", "ensure_version")],
)
def test_unknown_command_suggests(typed: str, meant: str) -> None:
    message = bad(f"{typed} head", f"Unknown command {typed!r}.", f"Did you mean `{meant}`?", "Commands: ")
    assert "connect" in message and "upgrade" in message


def test_unknown_command_without_a_close_match() -> None:
    message = bad("zzzzzz", "Unknown command 'zzzzzz'.", "Commands:")
    assert "Did you mean" not in message


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("upgrade", ("the following arguments are required: revision", "Usage: %migrate upgrade")),
        ("stamp", ("required: revisions",)),
        ("show", ("required: rev",)),
        ("upgrade head extra", ("unrecognized arguments: extra",)),
        ("history --bogus", ("unrecognized arguments: --bogus",)),
        ("-x", ("argument -x: expected one argument",)),
        ("revision -m", ("argument -m/--message: expected one argument", "Usage: %migrate revision")),
        ("graph --engine neato", ("argument --engine: invalid choice: 'neato'", "Usage: %migrate graph")),
        ('revision -m "unclosed', ("Cannot split the line", "Check the quotes")),
        ("-c a.ini", ("Name a command",)),
    ],
)
def test_bad_arguments(line: str, fragments: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    bad(line, *fragments)
    assert capsys.readouterr() == ("", "")  # argparse printed nothing


def test_messages_are_one_paragraph_without_internals() -> None:
    message = bad("upgrade head extra")
    assert "Traceback" not in message and "argparse" not in message
    assert "SystemExit" not in bad("history -r")


# -- connect targets ------------------------------------------------------------------------------


def test_connect_target_resolution() -> None:
    engine = object()
    namespace = {"eng": engine, "url": "sqlite://"}
    assert resolve_target("eng", namespace) is engine
    assert resolve_target("url", namespace) == "sqlite://"
    assert resolve_target("sqlite:///x.db", namespace) == "sqlite:///x.db"
    assert resolve_target("postgresql+psycopg://u@h/db", None) == "postgresql+psycopg://u@h/db"
    with pytest.raises(BadArguments, match="neither a database URL .* nor a variable of this kernel"):
        resolve_target("missing_name", namespace)


def test_invocation_is_plain_data() -> None:
    invocation = parse("-n other upgrade head")
    assert isinstance(invocation, Invocation)
    assert invocation == Invocation(
        command="upgrade",
        arguments={"revision": "head", "sql": False, "tag": None, "preview": False, "no_schema": False, "accept_risk": False},
        name="other",
    )


# -- comments, as a shell reads them (README lines pasted with their comments) ----------------


@pytest.mark.parametrize(
    ("line", "command", "arguments"),
    [
        ("init   # ./alembic.ini + ./migrations/", "init", {"directory": "migrations"}),
        ("history   # it's every revision", "history", {"rev_range": None}),
        ("upgrade head # to the newest", "upgrade", {"revision": "head"}),
        ("downgrade -1 #", "downgrade", {"revision": "-1"}),
        ("# nothing but a comment", "help", {}),
        # A `#` inside a word or inside quotes is no comment.
        ('revision -m "fix #12"', "revision", {"message": "fix #12"}),
        ("revision -m 'fix #12' # done", "revision", {"message": "fix #12"}),
        ("revision -m fix#12", "revision", {"message": "fix#12"}),
        (r"revision -m \#12", "revision", {"message": "#12"}),
        ('revision -m "a \\" #b"', "revision", {"message": 'a " #b'}),
        ("connect postgresql://u:pa#ss@h/db", "connect", {"target": "postgresql://u:pa#ss@h/db"}),
        ("connect 'postgresql://u:pa #ss@h/db'  # quoted", "connect", {"target": "postgresql://u:pa #ss@h/db"}),
        ("-x tag=#1 current", "current", {}),
    ],
)
def test_an_unquoted_hash_that_starts_a_word_begins_a_comment(line: str, command: str, arguments: dict) -> None:
    invocation = parse(line)
    assert invocation.command == command
    for key, value in arguments.items():
        assert invocation.arguments[key] == value, key


def test_a_hash_inside_a_word_stays_in_an_option_value() -> None:
    assert parse("-x tag=#1 current").x == ["tag=#1"]
    bad("-x tag=1 #2 current", "Name a command")  # as in a shell, the comment takes `current` with it


def test_a_quote_inside_a_comment_is_no_quote() -> None:
    assert parse("current   # don't care").command == "current"
    bad("current it's", "Cannot split the line", "Check the quotes")  # outside a comment it still is


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('-m "add #3" --rev-id 0003   # the third', "add #3"),
        ("-m fix#12 --apply  # it's applied at once", "fix#12"),
    ],
)
def test_revision_header_lines_take_comments_too(line: str, message: str) -> None:
    from nbmigrate.cell import CellOptions, parse_line

    options = parse_line(line)
    assert isinstance(options, CellOptions) and options.message == message


# -- what no line can hold --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["-c 'a\x00b' current", "init 'mig\x00x'", "connect 'sqlite:///a\x00.db'", "revision -m x --version-path 'v\x00'"],
)
def test_a_nul_byte_is_refused_in_one_line(line: str) -> None:
    bad(line, "NUL")


def test_a_nul_byte_is_refused_in_a_revision_header() -> None:
    from nbmigrate.cell import parse_line

    with pytest.raises(BadArguments, match="NUL"):
        parse_line("-m x -c 'a\x00b'")


def test_raiseerr_inside_a_quoted_value_is_a_value() -> None:
    invocation = parse('revision -m " --raiseerr "')
    assert invocation.arguments["message"] == " --raiseerr " and not invocation.raiseerr
    assert not parse("current # --raiseerr").raiseerr
