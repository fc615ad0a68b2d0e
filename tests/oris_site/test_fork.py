"""A forked process (a django-q2 cluster's) does not share the connections of
the pool it inherits: it opens its own, and the parent's stay the parent's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL backend's pool"
    ),
]

ROOT = Path(__file__).resolve().parents[2]

# The parent takes a connection from its pool and gives it back (as django-q2
# closes its connections before it forks), forks, and each side asks which
# server process it talks to.
SCRIPT = """
import json, os, django
django.setup()
from django.db import connection

def backend():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

before = backend()
connection.close()
read, write = os.pipe()
child = os.fork()
if child == 0:
    os.write(write, json.dumps(backend()).encode())
    connection.close()
    os._exit(0)
os.waitpid(child, 0)
print(json.dumps({"before": before, "child": json.loads(os.read(read, 64)),
                  "after": backend()}))
"""


def test_a_forked_process_opens_connections_of_its_own() -> None:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    env.update(
        DATABASE_URL=url,
        ORIS_DB_POOL="true",
        ORIS_SECRET_KEY="test-not-secret",
        DJANGO_SETTINGS_MODULE="oris_site.settings",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pids = json.loads(done.stdout.splitlines()[-1])
    assert pids["child"] != pids["before"]  # the child's own session
    assert pids["after"] == pids["before"]  # the parent's, still open and its own
