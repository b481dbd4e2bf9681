"""Importers: bring another registry's models over through the Modelyard API (the client), so
they work against a remote server with a token and need none of the server's code."""
