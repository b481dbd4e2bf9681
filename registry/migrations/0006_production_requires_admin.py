"""A per-model setting: every production move of this model needs the admin role."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('registered_model', 'production_requires_admin',
                            BooleanField(default=False)))
