"""nbmigrate: Alembic database migrations in Jupyter."""

__version__ = "0.1.0"
