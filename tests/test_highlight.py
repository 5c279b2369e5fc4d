"""Highlighted code is the same HTML under every Pygments release the package allows.

CI runs this file under the lock's Pygments, the newest and the floor (2.10): the markup, the
escaping and the colours are nbmigrate's, only the tokens come from Pygments.
"""

from __future__ import annotations

from nbmigrate.render._html import code

PYTHON = 'def upgrade():\n    # add it\n    op.execute("UPDATE t SET a = \'x\' WHERE b < 2 & c")\n    pass\n'
SQL = "CREATE TABLE \"user\" (id INTEGER NOT NULL, name VARCHAR(50) DEFAULT 'x');\n"


def test_python_is_highlighted_the_same_everywhere() -> None:
    assert code(PYTHON, "python") == (
        '<pre><code><span style="color: #008000; font-weight: bold">def</span> '
        '<span style="color: #0000FF">upgrade</span>():\n'
        '    <span style="color: #3D7B7B; font-style: italic"># add it</span>\n'
        '    op<span style="color: #666666">.</span>execute('
        '<span style="color: #BA2121">&quot;UPDATE t SET a = &#x27;x&#x27; WHERE b &lt; 2 &amp; c&quot;</span>)\n'
        '    <span style="color: #008000; font-weight: bold">pass</span>\n</code></pre>'
    )


def test_sql_is_highlighted_the_same_everywhere() -> None:
    html = code(SQL, "sql")
    assert html.startswith('<pre><code><span style="color: #008000; font-weight: bold">CREATE</span> ')
    assert '<span style="color: #BA2121">&#x27;x&#x27;</span>' in html
    assert "&quot;user&quot;" in html and '"user"' not in html


def test_long_source_is_plain_and_escaped() -> None:
    source = "SELECT '<x>';\n" * 3000
    assert code(source) == f"<pre><code>{source.replace(chr(39), '&#x27;').replace('<', '&lt;').replace('>', '&gt;')}</code></pre>"
