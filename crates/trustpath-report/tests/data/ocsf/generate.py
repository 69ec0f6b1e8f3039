#!/usr/bin/env python3
"""Regenerate the strict OCSF 1.3.0 Detection Finding schemas used by tests/ocsf_schema.rs.

    python3 -m venv /tmp/ocsf && /tmp/ocsf/bin/pip install ocsf-json-schema==1.2.0
    /tmp/ocsf/bin/python generate.py

One file per set of profiles a trustpath finding can declare (security_control always,
cloud and host when used), named detection_finding.<profiles joined by '.'>.json.
"""
import itertools
import json
import pathlib

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

here = pathlib.Path(__file__).parent
schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.3.0"))
for cloud, host in itertools.product([False, True], repeat=2):
    profiles = [p for p, on in (("cloud", cloud), ("host", host)) if on] + ["security_control"]
    js = schema.get_class_schema(class_name="detection_finding", profiles=profiles)
    out = here / f"detection_finding.{'.'.join(profiles)}.json"
    out.write_text(json.dumps(js, indent=1, sort_keys=True) + "\n")
    print(out.name, out.stat().st_size)
