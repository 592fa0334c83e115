#!/usr/bin/python3
"""validate_json.py SCHEMA FILE...: exit 0 when every FILE validates against SCHEMA (draft 7)."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
for path in sys.argv[2:]:
    try:
        jsonschema.validate(json.load(open(path)), schema)
    except jsonschema.ValidationError as e:
        print(f"{path}: {e.message} at {list(e.absolute_path)}", file=sys.stderr)
        sys.exit(1)
