"""Console sessions: a random id (stored hashed) that stands for an API token until it expires
or the token is revoked."""
from peewee import *


def up(migrator, db):
    class ApiToken(Model):
        class Meta:
            database = db
            table_name = 'api_token'

    class ConsoleSession(Model):
        id_hash = CharField(max_length=64, unique=True)
        token = ForeignKeyField(ApiToken, on_delete='CASCADE')
        created_at = BigIntegerField()
        expires_at = BigIntegerField(index=True)
        class Meta:
            database = db
            table_name = 'console_session'

    db.create_tables([ConsoleSession])
