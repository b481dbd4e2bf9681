"""Pure rules: no Flask, no database, only the standard library."""
