"""Schema through time: the history replayed on scratch databases, never on the user's.

- :mod:`.scratch` makes a database of the project's dialect to replay on (a temporary SQLite
  file, or a temporary database on the project's server) and runs revision steps there, one by
  one, in a single run of the project's own ``env.py``, reading the schema between steps;
- :mod:`.at` answers "the schema at revision X" (cached per revision in a warm kernel) and the
  difference between two points of history;
- :mod:`.roundtrip` runs every step up, down and up again and checks that each downgrade returns
  exactly the schema before the step;
- :mod:`.squash` writes one revision equivalent to a chain and proves it on scratch databases.
"""

from __future__ import annotations
