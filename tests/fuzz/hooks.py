"""schemathesis hooks for the fuzz run (tests/fuzz/fuzz.py), loaded through
SCHEMATHESIS_HOOKS: how to send a JSON Lines body (the tenant import), a
media type schemathesis has no serializer for."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    # Negative cases generate other types: one JSON value on one line.
    return {"data": json.dumps(value).encode("utf-8")}
