"""The shop database: SQLAlchemy models, engine, demo seed and the SQL order source."""
