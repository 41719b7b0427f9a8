"""Command classes: every row of the table with its own example, then cases a row alone does
not show (pipelines, wrappers, SQL, redirects, what bashlex cannot parse)."""

from __future__ import annotations

import pytest

from opsbook.importer.commands import RULES, TABLE, Class, classify, classify_all, rule_for


@pytest.mark.parametrize(("pattern", "cls", "example"), TABLE, ids=[row[0] for row in TABLE])
def test_each_row_classifies_its_example(pattern: str, cls: Class, example: str) -> None:
    result = classify_all(example)
    assert result.parsed, f"bashlex could not parse the example {example!r}"
    (simple,) = result.commands
    rule = rule_for(simple)
    assert rule is not None and rule.pattern == pattern, (example, rule)
    assert result.cls == cls


def test_every_row_is_reachable() -> None:
    patterns = [rule.pattern for rule in RULES]
    assert len(patterns) == len(set(patterns)), "a pattern is listed twice"


@pytest.mark.parametrize(
    ("command", "cls"),
    [
        # the strongest class of a list or pipeline wins
        ("kubectl get pods && kubectl delete pod api-0", Class.DESTRUCTIVE),
        ("kubectl logs -f deploy/api | grep ERROR", Class.NEVER_ENDS),
        ("echo ok; nano .env", Class.INTERACTIVE),
        ('for f in *.tmp; do rm "$f"; done', Class.DESTRUCTIVE),
        ("cleanup() { rm -rf /tmp/build; }\ncleanup", Class.DESTRUCTIVE),
        ("echo $(git rev-parse HEAD)", Class.READ_ONLY),
        # wrappers run the program after them
        ("sudo systemctl restart nginx", Class.CHANGES),
        ("sudo rm -rf /var/cache/app", Class.DESTRUCTIVE),
        ("NODE_ENV=production npm run build", Class.CHANGES),
        ("npx prisma migrate reset --force", Class.DESTRUCTIVE),
        ("env FOO=1 kubectl get pods", Class.READ_ONLY),
        # combined short flags
        ("tail -fn 100 app.log", Class.NEVER_ENDS),
        ("docker exec -ti api sh", Class.INTERACTIVE),
        # a redirect that writes a file changes things; to /dev/null it does not
        ("echo secret > .env", Class.CHANGES),
        ("curl -s https://example.com/health > /dev/null", Class.READ_ONLY),
        ("curl -fsSL https://get.example.com | sh", Class.CHANGES),
        ("curl -X GET https://example.com/api/status", Class.READ_ONLY),
        # SQL decides what psql, mysql and sqlite3 do
        ('psql "$DATABASE_URL" -c "SELECT count(*) FROM users"', Class.READ_ONLY),
        ('psql "$DATABASE_URL" -c "DROP TABLE sessions"', Class.DESTRUCTIVE),
        ("psql \"$DATABASE_URL\" <<'SQL'\nDELETE FROM jobs WHERE done;\nSQL", Class.DESTRUCTIVE),
        ("psql \"$DATABASE_URL\" <<'SQL'\nselect 1;\nSQL", Class.READ_ONLY),
        ('psql "$DATABASE_URL" < migrate.sql', Class.CHANGES),
        ('cat dump.sql | psql "$DATABASE_URL"', Class.CHANGES),
        ("sqlite3 app.db 'select count(*) from users'", Class.READ_ONLY),
        ("mysql -e 'TRUNCATE TABLE cache' app", Class.DESTRUCTIVE),
        # placeholders and templates do not confuse the parser
        ("kubectl rollout undo deployment/<deployment-name>", Class.DESTRUCTIVE),
        ("kubectl get pods -n ${{ params.namespace }}", Class.READ_ONLY),
        # what the table does not know changes things
        ("./scripts/deploy.sh production", Class.CHANGES),
        ("frobnicate --all", Class.CHANGES),
        # bashlex cannot read [[ ]]: the shell words still classify it
        ("[[ -f .env ]] && rm .env", Class.DESTRUCTIVE),
        ("echo $((1 + 2))", Class.READ_ONLY),
        ("", Class.READ_ONLY),
    ],
)
def test_commands(command: str, cls: Class) -> None:
    assert classify(command) == cls


def test_labels() -> None:
    assert [c.label for c in Class] == [
        "read-only",
        "changes",
        "destructive",
        "never-ends",
        "interactive",
    ]
