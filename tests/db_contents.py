"""Every value in every table of a database as one text, so a test can say that something
(an email, an address) is nowhere in it."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, select


def everything_in(engine: Engine) -> str:
    tables = MetaData()
    tables.reflect(engine)
    values = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            for row in connection.execute(select(table)):
                values += [str(value) for value in row if value is not None]
    return "\n".join(values)
