# Alembic configuration written by nbmigrate (`%migrate init`).
# The `alembic` command line reads it unchanged.

[alembic]
# path to the migration scripts
script_location = ${script_location}

# sys.path entries added before env.py runs; "." is the folder of this file
prepend_sys_path = .
path_separator = os

# The embedded default: a SQLite file beside the migrations folder.
# In a notebook, `%migrate connect URL` points one kernel elsewhere without editing this file.
sqlalchemy.url = sqlite:///${script_location}.db

[post_write_hooks]

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
