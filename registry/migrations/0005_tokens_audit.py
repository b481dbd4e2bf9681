"""API tokens (hashed) and the hash-chained audit trail."""
from peewee import *


def up(migrator, db):
    class ApiToken(Model):
        name = CharField(max_length=128, unique=True)
        role = CharField(max_length=16)
        token_hash = CharField(max_length=64, unique=True)
        created_by = CharField(max_length=256)
        created_at = BigIntegerField()
        last_used_at = BigIntegerField(null=True)
        revoked_at = BigIntegerField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'

    class AuditRecord(Model):
        seq = BigIntegerField(primary_key=True)
        at = BigIntegerField()
        actor = CharField(max_length=256)
        action = CharField(max_length=64)
        model = CharField(max_length=128, null=True)
        version = IntegerField(null=True)
        request_id = CharField(max_length=128, null=True)
        client_address = CharField(max_length=64, null=True)
        summary = TextField()
        previous_hash = CharField(max_length=64)
        hash = CharField(max_length=64, unique=True)
        class Meta:
            database = db
            table_name = 'audit_record'
            indexes = ((('model', 'seq'), False), (('actor', 'seq'), False),
                       (('action', 'seq'), False))
    db.create_tables([ApiToken, AuditRecord])
