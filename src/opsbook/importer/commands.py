"""Command classes: what a shell command does to the world, read from bashlex's syntax tree.

    classify("kubectl rollout undo deployment/api")   # Class.DESTRUCTIVE
    classify("kubectl logs -f deploy/api | grep err")  # Class.NEVER_ENDS

The command is parsed by bashlex (a maintained bash parser), never matched with regular
expressions over its raw text; every simple command in it (pipelines, lists, loops, functions,
``$( )``) is looked up in :data:`TABLE`, and the strongest class wins. SQL given to ``psql -c``,
``sqlite3`` or in a heredoc is classified by pglast. A program the table does not know *changes
things*: an import asks a human rather than guess that something is harmless.

Each row of the table is ``(pattern, class, example)``; ``tests/test_import_commands.py`` checks
every row with its example. A pattern is the program, then words that must follow it in order
among its arguments (``rollout undo``), then flags: ``-f|--follow`` (one of them is given),
``!-c|--command`` (none is given), ``~word`` (the word anywhere, not first), and the
conditions ``@bare`` (nothing else), ``@noarg`` / ``@onearg`` (no / at most one argument besides
flags and their values) and ``@nostdin`` (no input redirect, heredoc or pipe into it).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import bashlex
import pglast


class Class(IntEnum):
    """How much a command asks of the person running it; a combination takes the strongest."""

    READ_ONLY = 0  # looks, changes nothing
    CHANGES = 1  # changes something that can be changed back
    DESTRUCTIVE = 2  # deletes, overwrites, forces, restores, rolls back, pushes
    NEVER_ENDS = 3  # follows, tails, watches, serves: a step would hang
    INTERACTIVE = 4  # an editor, a console, a remote shell: a person types in it

    @property
    def label(self) -> str:
        """``read-only``, ``changes``, ``destructive``, ``never-ends``, ``interactive``."""
        return self.name.lower().replace("_", "-")


RO, CH, DE, NE, IA = (
    Class.READ_ONLY,
    Class.CHANGES,
    Class.DESTRUCTIVE,
    Class.NEVER_ENDS,
    Class.INTERACTIVE,
)

TABLE: list[tuple[str, Class, str]] = [
    # shell built-ins and plain looking
    ("echo", RO, "echo done"),
    ("printf", RO, "printf '%s\\n' ok"),
    ("cd", RO, "cd web"),
    ("export", RO, "export NODE_ENV=production"),
    ("source", RO, "source .env"),
    ("true", RO, "true"),
    ("test", RO, "test -f package.json"),
    ("[", RO, "[ -f package.json ]"),
    ("sleep", RO, "sleep 5"),
    ("exit", RO, "exit 1"),
    ("read", RO, "read -r answer"),
    ("set", RO, "set -euo pipefail"),
    ("ls", RO, "ls -la"),
    ("cat", RO, "cat .env.example"),
    ("less", IA, "less app.log"),
    ("more", IA, "more app.log"),
    ("head", RO, "head -n 20 app.log"),
    ("tail -f|-F|--follow", NE, "tail -f /var/log/app.log"),
    ("tail", RO, "tail -n 100 app.log"),
    ("grep", RO, "grep ERROR app.log"),
    ("wc", RO, "wc -l app.log"),
    ("jq", RO, "jq .status out.json"),
    ("sort", RO, "sort names.txt"),
    ("uniq", RO, "uniq -c"),
    ("awk", RO, "awk '{print $1}'"),
    ("sed -i|--in-place", CH, "sed -i 's/a/b/' config.ini"),
    ("sed", RO, "sed -n 1,5p app.log"),
    ("find -delete", DE, "find /tmp/cache -name '*.tmp' -delete"),
    ("find -exec", CH, "find . -name '*.log' -exec gzip {} \\;"),
    ("find", RO, "find . -name '*.sql'"),
    ("pwd", RO, "pwd"),
    ("whoami", RO, "whoami"),
    ("date", RO, "date -u"),
    ("env", RO, "env"),
    ("printenv", RO, "printenv DATABASE_URL"),
    ("which", RO, "which psql"),
    ("command", RO, "command -v psql"),
    ("stat", RO, "stat backup.sql"),
    ("df", RO, "df -h"),
    ("du", RO, "du -sh /var/lib/postgresql"),
    ("free", RO, "free -m"),
    ("uptime", RO, "uptime"),
    ("ps", RO, "ps aux"),
    ("top", NE, "top"),
    ("htop", NE, "htop"),
    ("watch", NE, "watch kubectl get pods"),
    ("nslookup", RO, "nslookup example.com"),
    ("dig", RO, "dig +short example.com"),
    ("ping -c|--count", RO, "ping -c 3 10.0.0.1"),
    ("ping", NE, "ping db.internal"),
    ("openssl", RO, "openssl x509 -in cert.pem -noout -dates"),
    ("nc -z", RO, "nc -z db.internal 5432"),
    # files
    ("rm", DE, "rm -rf ./data"),
    ("rmdir", DE, "rmdir old"),
    ("shred", DE, "shred -u secrets.txt"),
    ("truncate", DE, "truncate -s 0 app.log"),
    ("dd", DE, "dd if=/dev/zero of=/dev/sdb"),
    ("mkfs", DE, "mkfs.ext4 /dev/sdb1"),
    ("mv", CH, "mv app.old app"),
    ("cp", CH, "cp .env.example .env"),
    ("mkdir", CH, "mkdir -p backups"),
    ("touch", CH, "touch maintenance.flag"),
    ("chmod", CH, "chmod +x deploy.sh"),
    ("chown", CH, "chown -R app:app /srv/app"),
    ("ln", CH, "ln -sfn releases/42 current"),
    ("tar", CH, "tar czf backup.tgz data"),
    ("unzip", CH, "unzip release.zip"),
    ("gzip", CH, "gzip dump.sql"),
    # editors and consoles
    ("nano", IA, "nano .env"),
    ("vim", IA, "vim config.yml"),
    ("vi", IA, "vi config.yml"),
    ("emacs", IA, "emacs config.yml"),
    ("crontab -e", IA, "crontab -e"),
    ("crontab -l", RO, "crontab -l"),
    ("crontab -r", DE, "crontab -r"),
    ("crontab", CH, "crontab jobs.txt"),
    ("visudo", IA, "visudo"),
    ("tmux", IA, "tmux attach"),
    ("screen", IA, "screen -r"),
    ("bash @bare @nostdin", IA, "bash"),
    ("sh @bare @nostdin", IA, "sh"),
    ("bash", CH, "bash ./scripts/deploy.sh"),
    ("sh", CH, "sh ./scripts/deploy.sh"),
    ("python @bare", IA, "python"),
    ("python3 @bare", IA, "python3"),
    ("python -m http.server", NE, "python -m http.server 8000"),
    ("python3 -m http.server", NE, "python3 -m http.server 8000"),
    ("node @bare", IA, "node"),
    ("node --version|-v", RO, "node --version"),
    ("irb", IA, "irb"),
    ("ssh @onearg", IA, "ssh deploy@app-1"),
    ("ssh", CH, "ssh deploy@app-1 'sudo systemctl restart app'"),
    ("scp", CH, "scp dump.sql deploy@app-1:/tmp/"),
    ("rsync --delete", DE, "rsync -a --delete build/ deploy@app-1:/srv/app/"),
    ("rsync", CH, "rsync -a build/ deploy@app-1:/srv/app/"),
    # databases
    ("psql !-c|--command|-f|--file|-l|--list @nostdin", IA, 'psql "$DATABASE_URL"'),
    ("psql", CH, 'psql "$DATABASE_URL" -f migrate.sql'),
    ("mysql !-e|--execute @nostdin", IA, "mysql -u root -p"),
    ("mysql", CH, "mysql -u root app < dump.sql"),
    ("sqlite3 @onearg @nostdin", IA, "sqlite3 app.db"),
    ("sqlite3", CH, "sqlite3 app.db < seed.sql"),
    ("redis-cli flushall|flushdb|FLUSHALL|FLUSHDB", DE, "redis-cli FLUSHALL"),
    ("redis-cli ~monitor|MONITOR|subscribe|SUBSCRIBE|psubscribe", NE, "redis-cli monitor"),
    (
        "redis-cli ping|info|get|llen|lrange|keys|scan|ttl|type|dbsize|exists|PING|INFO|GET",
        RO,
        "redis-cli -h cache.internal llen queue:default",
    ),
    ("redis-cli @noarg", IA, "redis-cli -h cache.internal"),
    ("redis-cli", CH, "redis-cli set maintenance on"),
    ("mongosh @nostdin !--eval", IA, "mongosh"),
    ("mongo @nostdin !--eval", IA, "mongo"),
    ("pg_dump", RO, 'pg_dump "$DATABASE_URL" -Fc -f backup.dump'),
    ("pg_restore", DE, 'pg_restore --clean -d "$DATABASE_URL" backup.dump'),
    ("pg_isready", RO, "pg_isready -h localhost"),
    ("dropdb", DE, "dropdb app"),
    ("createdb", CH, "createdb app"),
    ("mysqldump", RO, "mysqldump --no-data app"),
    # git
    ("git push", DE, "git push origin main"),
    ("git reset --hard", DE, "git reset --hard origin/main"),
    ("git clean", DE, "git clean -fdx"),
    ("git status", RO, "git status"),
    ("git log", RO, "git log --oneline -5"),
    ("git diff", RO, "git diff HEAD~1"),
    ("git show", RO, "git show HEAD"),
    ("git fetch", RO, "git fetch --tags"),
    ("git branch", RO, "git branch -a"),
    ("git rev-parse", RO, "git rev-parse HEAD"),
    ("git describe", RO, "git describe --tags"),
    ("git", CH, "git checkout -b release/1.2"),
    # containers
    ("docker compose down -v|--volumes", DE, "docker compose down -v"),
    ("docker compose down", CH, "docker compose down"),
    ("docker compose logs -f|--follow", NE, "docker compose logs -f api"),
    ("docker compose logs", RO, "docker compose logs --tail 50 api"),
    ("docker compose ps", RO, "docker compose ps"),
    ("docker compose config", RO, "docker compose config"),
    ("docker compose exec -it", IA, "docker compose exec -it db bash"),
    ("docker compose exec @nostdin", CH, "docker compose exec db pg_isready"),
    ("docker compose up -d|--detach|--wait", CH, "docker compose up -d"),
    ("docker compose up", NE, "docker compose up"),
    ("docker compose rm", DE, "docker compose rm -f"),
    ("docker compose", CH, "docker compose pull"),
    ("docker exec -it|-ti|-i", IA, "docker exec -it api sh"),
    ("docker run -it|-ti", IA, "docker run -it --rm alpine sh"),
    ("docker logs -f|--follow", NE, "docker logs -f api"),
    ("docker logs", RO, "docker logs --tail 100 api"),
    ("docker ps", RO, "docker ps -a"),
    ("docker images", RO, "docker images"),
    ("docker inspect", RO, "docker inspect api"),
    ("docker stats", NE, "docker stats"),
    ("docker rm", DE, "docker rm -f api"),
    ("docker rmi", DE, "docker rmi app:old"),
    ("docker volume rm|prune", DE, "docker volume rm app_data"),
    ("docker volume", RO, "docker volume ls"),
    ("docker system prune", DE, "docker system prune -af"),
    ("docker image prune", DE, "docker image prune -a"),
    ("docker", CH, "docker pull app:1.2"),
    ("docker-compose down -v|--volumes", DE, "docker-compose down -v"),
    ("docker-compose logs -f|--follow", NE, "docker-compose logs -f"),
    ("docker-compose ps|logs|config", RO, "docker-compose ps"),
    ("docker-compose up -d|--detach", CH, "docker-compose up -d"),
    ("docker-compose up", NE, "docker-compose up"),
    ("docker-compose", CH, "docker-compose pull"),
    # kubernetes and openshift
    ("kubectl logs -f|--follow", NE, "kubectl logs -f deploy/api"),
    ("kubectl get -w|--watch", NE, "kubectl get pods -w"),
    ("kubectl port-forward", NE, "kubectl port-forward svc/api 8080:80"),
    ("kubectl edit", IA, "kubectl edit deploy/api"),
    ("kubectl exec -it|-ti|-i", IA, "kubectl exec -it api-0 -- sh"),
    ("kubectl attach", IA, "kubectl attach api-0 -it"),
    ("kubectl rollout undo", DE, "kubectl rollout undo deployment/api"),
    ("kubectl rollout status|history", RO, "kubectl rollout status deployment/api"),
    ("kubectl delete", DE, "kubectl delete pod api-0"),
    ("kubectl drain", DE, "kubectl drain node-1 --ignore-daemonsets"),
    ("kubectl replace --force", DE, "kubectl replace --force -f api.yaml"),
    ("kubectl apply --prune", DE, "kubectl apply --prune -f k8s/"),
    (
        "kubectl get|describe|logs|top|explain|version|cluster-info|api-resources",
        RO,
        "kubectl get pods -n prod",
    ),
    ("kubectl auth can-i", RO, "kubectl auth can-i delete pods"),
    ("kubectl config view|get-contexts|current-context", RO, "kubectl config current-context"),
    ("kubectl diff", RO, "kubectl diff -f k8s/"),
    ("kubectl", CH, "kubectl apply -f k8s/"),
    ("oc logs -f|--follow", NE, "oc logs -f dc/api"),
    ("oc rsh", IA, "oc rsh api-1-abcde"),
    ("oc edit", IA, "oc edit dc/api"),
    ("oc delete", DE, "oc delete pod api-1"),
    ("oc rollback", DE, "oc rollback dc/api"),
    ("oc rollout undo", DE, "oc rollout undo dc/api"),
    ("oc get|describe|logs|status|whoami|version|project", RO, "oc get nodes"),
    ("oc", CH, "oc apply -f api.yaml"),
    ("helm uninstall|delete|rollback", DE, "helm rollback api 3"),
    ("helm list|ls|status|history|get|template|lint|diff", RO, "helm history api"),
    ("helm", CH, "helm upgrade --install api ./chart"),
    ("stern", NE, "stern api"),
    # infrastructure and clouds
    ("terraform apply|destroy|force-unlock|import|taint", DE, "terraform apply tfplan"),
    ("terraform state rm|mv|push", DE, "terraform state rm aws_instance.old"),
    (
        "terraform plan|show|output|validate|fmt|version|providers|graph",
        RO,
        "terraform plan -out tfplan",
    ),
    ("terraform state list|show|pull", RO, "terraform state list"),
    ("terraform init", CH, "terraform init"),
    ("terraform", CH, "terraform workspace select prod"),
    ("aws s3 rm|rb", DE, "aws s3 rm s3://tf-state/prod.tflock"),
    ("aws s3 ls", RO, "aws s3 ls s3://backups/"),
    ("aws logs tail --follow", NE, "aws logs tail /ecs/api --follow"),
    ("aws ssm start-session", IA, "aws ssm start-session --target i-0abc"),
    ("aws sts get-caller-identity", RO, "aws sts get-caller-identity"),
    (
        "aws ~delete-*|terminate-*|remove-*|purge-*",
        DE,
        "aws dynamodb delete-item --table-name locks",
    ),
    ("aws ~describe-*|list-*|get-*", RO, "aws ecs describe-services --cluster prod"),
    ("aws", CH, "aws ecs update-service --cluster prod --service api --force-new-deployment"),
    ("gcloud ~tail", NE, "gcloud beta run services logs tail api"),
    ("gcloud ~ssh !--command", IA, "gcloud compute ssh app-1"),
    ("gcloud ~list|describe", RO, "gcloud run services describe api"),
    ("gcloud logging read", RO, "gcloud logging read severity=ERROR --limit 50"),
    ("gcloud", CH, "gcloud run deploy api --image gcr.io/p/api:1.2"),
    ("az", CH, "az webapp restart --name api"),
    ("heroku logs --tail|-t", NE, "heroku logs --tail -a shop"),
    ("heroku run bash|console|rails", IA, "heroku run rails console -a shop"),
    ("heroku pg:reset", DE, "heroku pg:reset DATABASE_URL -a shop"),
    ("heroku rollback|releases:rollback", DE, "heroku rollback v41 -a shop"),
    ("heroku ps|releases|config|logs|status", RO, "heroku releases -a shop"),
    ("heroku", CH, "heroku config:set FLAG=on -a shop"),
    ("systemctl status|is-active|list-units", RO, "systemctl status nginx"),
    ("systemctl", CH, "systemctl restart nginx"),
    ("service", CH, "service nginx reload"),
    ("journalctl -f|--follow", NE, "journalctl -u app -f"),
    ("journalctl", RO, "journalctl -u app --since -1h"),
    ("kill", CH, "kill -HUP 1234"),
    ("pkill", CH, "pkill -f worker"),
    ("curl ~DELETE", DE, "curl -X DELETE https://api.example.com/v1/cache"),
    ("curl ~POST|PUT|PATCH", CH, "curl -X POST https://api.example.com/v1/send"),
    ("curl -d|--data|--data-raw|--data-binary|--data-urlencode", CH, "curl https://x.io/v1 -d a=1"),
    ("curl -F|--form|-T|--upload-file|--json", CH, "curl -F file=@dump.sql https://x.io/upload"),
    ("curl -o|--output|-O|--remote-name", CH, "curl -o install.sh https://example.com/install.sh"),
    ("curl", RO, "curl -s https://api.example.com/health"),
    ("wget --spider", RO, "wget --spider https://example.com/health"),
    ("wget", CH, "wget https://example.com/release.tgz"),
    ("http", CH, "http POST :8080/jobs"),
    # application tooling
    ("supabase db reset", DE, "supabase db reset --linked"),
    ("supabase migration repair", DE, "supabase migration repair --status reverted 20240101"),
    ("supabase status", RO, "supabase status"),
    ("supabase projects list", RO, "supabase projects list"),
    ("supabase migration list", RO, "supabase migration list"),
    ("supabase db diff", RO, "supabase db diff"),
    ("supabase ~list|list-migrations", RO, "supabase secrets list"),
    ("supabase db shell", IA, "supabase db shell"),
    ("supabase", CH, "supabase db push"),
    ("prisma migrate reset", DE, "prisma migrate reset --force"),
    ("prisma db push --force-reset|--accept-data-loss", DE, "prisma db push --accept-data-loss"),
    ("prisma migrate status", RO, "prisma migrate status"),
    ("prisma studio", NE, "prisma studio"),
    ("prisma", CH, "prisma migrate deploy"),
    ("playwright show-report", NE, "playwright show-report"),
    ("playwright test", RO, "playwright test"),
    ("rails console|c|dbconsole", IA, "rails console -e production"),
    (
        "rails db:drop|db:reset|db:rollback|db:migrate:down|db:schema:load",
        DE,
        "rails db:rollback STEP=1",
    ),
    ("rails server|s", NE, "rails server"),
    ("rails", CH, "rails db:migrate"),
    ("rake db:drop|db:reset|db:rollback|db:migrate:down", DE, "rake db:migrate:down VERSION=2024"),
    ("rake", CH, "rake assets:precompile"),
    ("php artisan tinker", IA, "php artisan tinker"),
    (
        "php artisan migrate:rollback|migrate:reset|migrate:fresh|db:wipe",
        DE,
        "php artisan migrate:rollback",
    ),
    ("php artisan serve|queue:work|queue:listen", NE, "php artisan queue:work"),
    ("php", CH, "php artisan migrate --force"),
    ("npm run dev|start|serve|watch", NE, "npm run dev"),
    ("npm run build", CH, "npm run build"),
    ("npm start", NE, "npm start"),
    ("npm run lint|test|typecheck|type-check|check", RO, "npm run test:e2e"),
    ("npm test|ls|outdated|view|audit", RO, "npm test"),
    ("npm", CH, "npm ci"),
    ("pnpm dev|start|serve|watch", NE, "pnpm dev:agents"),
    ("pnpm run dev|start|serve|watch", NE, "pnpm run dev"),
    ("pnpm lint|test|typecheck", RO, "pnpm format:check"),
    ("pnpm run lint|test|typecheck", RO, "pnpm run lint"),
    ("pnpm", CH, "pnpm install"),
    ("yarn dev|start|serve|watch", NE, "yarn dev"),
    ("yarn lint|test|typecheck", RO, "yarn test"),
    ("yarn", CH, "yarn build"),
    ("next dev", NE, "next dev"),
    ("vercel dev", NE, "vercel dev"),
    ("vercel logs -f|--follow", NE, "vercel logs shop.vercel.app --follow"),
    ("vercel rm|remove", DE, "vercel rm shop-old --yes"),
    ("vercel rollback", DE, "vercel rollback shop-abc123.vercel.app"),
    ("vercel ls|list|inspect|logs|whoami", RO, "vercel ls"),
    ("vercel", CH, "vercel --prod"),
    ("pm2 monit|logs", NE, "pm2 monit"),
    ("pm2 status|list|ls|show|describe", RO, "pm2 status"),
    ("pm2 delete|kill", DE, "pm2 delete api"),
    ("pm2", CH, "pm2 restart api"),
    ("ngrok", NE, "ngrok http 3000"),
    ("make", CH, "make deploy"),
]


@dataclass(frozen=True)
class Rule:
    program: str
    words: tuple[tuple[str, ...], ...]
    """Each entry: alternatives for the next word that must follow, in order."""
    flags: tuple[tuple[str, ...], ...]
    """Each entry: alternatives of which one flag must be given."""
    absent: tuple[str, ...]
    bare: bool
    nostdin: bool
    onearg: bool
    noarg: bool
    anywhere: bool
    """The first word may be anywhere among the arguments (``~word``), not first."""
    cls: Class
    pattern: str


def _rule(pattern: str, cls: Class) -> Rule:
    tokens = pattern.split()
    words: list[tuple[str, ...]] = []
    flags: list[tuple[str, ...]] = []
    absent: list[str] = []
    for token in tokens[1:]:
        if token.startswith("@"):
            continue
        if token.startswith("!"):
            absent += token[1:].split("|")
        elif token.startswith("-"):
            flags.append(tuple(token.split("|")))
        else:
            words.append(tuple(token.lstrip("~").split("|")))
    return Rule(
        tokens[0],
        tuple(words),
        tuple(flags),
        tuple(absent),
        "@bare" in tokens,
        "@nostdin" in tokens,
        "@onearg" in tokens,
        "@noarg" in tokens,
        len(tokens) > 1 and tokens[1].startswith("~"),
        cls,
        pattern,
    )


RULES = [_rule(pattern, cls) for pattern, cls, _ in TABLE]
_WRAPPERS = {"sudo", "time", "nohup", "exec", "nice", "xargs"}
_RUNNERS = {
    ("npx",),
    ("bunx",),
    ("pnpm", "exec"),
    ("pnpm", "dlx"),
    ("yarn", "dlx"),
    ("bundle", "exec"),
}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SAFE_TARGETS = {"/dev/null", "/dev/stdout", "/dev/stderr", "&1", "&2", "1", "2"}


@dataclass
class Simple:
    """One simple command: its words, and whether its stdin is fed (redirect, heredoc, pipe)."""

    words: list[str]
    stdin: bool = False
    heredoc: str = ""
    writes: bool = False


@dataclass
class Result:
    cls: Class
    commands: list[Simple] = field(default_factory=list)
    parsed: bool = True
    """False when bashlex could not read it (a shell-word fallback classified it)."""


def _flag_given(flag: str, args: list[str]) -> bool:
    for arg in args:
        if arg == flag or arg.startswith(flag + "="):
            return True
        if (
            len(flag) == 2
            and flag[0] == "-"
            and flag[1] != "-"
            and re.fullmatch(r"-[A-Za-z]+", arg)
            and flag[1] in arg[1:]
            and len(arg) <= 5
        ):
            return True
    return False


_VALUE_FLAGS = {
    "-i", "-p", "-l", "-o", "-F", "-J", "-L", "-R", "-n", "--namespace", "-c", "-h", "-a", "-U",
    "--host", "--port", "--user",
}  # fmt: skip


def _positional(args: list[str]) -> list[tuple[str, bool]]:
    """(argument, whether it follows a flag, so may be that flag's value)."""
    found: list[tuple[str, bool]] = []
    after_flag = False
    for arg in args:
        if arg.startswith("-") and arg != "-":
            after_flag = "=" not in arg
            continue
        found.append((arg, after_flag))
        after_flag = False
    return found


def _words_follow(rule: Rule, args: list[str]) -> bool:
    """The rule's words among the arguments, in order; the first one leads (a flag's value
    such as ``-n prod`` may stand before it) unless the rule says ``~word``."""
    positional = _positional(args)
    at = 0
    for number, alternatives in enumerate(rule.words):
        if number == 0 and not rule.anywhere:
            if positional and _is(positional[0][0], alternatives):
                at = 1
                continue
            if len(positional) > 1 and positional[0][1] and _is(positional[1][0], alternatives):
                at = 2
                continue
            return False
        while at < len(positional) and not _is(positional[at][0], alternatives):
            at += 1
        if at == len(positional):
            return False
        at += 1
    return True


def _is(word: str, alternatives: tuple[str, ...]) -> bool:
    """``delete-*`` matches any word that starts with ``delete-``."""
    return any(word == a or (a.endswith("*") and word.startswith(a[:-1])) for a in alternatives)


def _arguments(args: list[str]) -> int:
    """How many arguments are not flags or flag values (``ssh -i key host`` has one)."""
    count, skip = 0, False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            count += 1
    return count


def rule_for(simple: Simple) -> Rule | None:
    """The first table row that matches a simple command."""
    words = _unwrap(simple.words)
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    args = [_script(program, arg) for arg in words[1:]]
    for rule in RULES:
        if rule.program != program and not (rule.program == "mkfs" and program.startswith("mkfs.")):
            continue
        if rule.words and not _words_follow(rule, args):
            continue
        if any(not any(_flag_given(f, args) for f in alts) for alts in rule.flags):
            continue
        if any(_flag_given(f, args) for f in rule.absent):
            continue
        if rule.bare and args:
            continue
        if rule.onearg and _arguments(args) > 1:
            continue
        if rule.noarg and _arguments(args) > 0:
            continue
        if rule.nostdin and simple.stdin:
            continue
        return rule
    return None


_CHECK_SCRIPT = re.compile(
    r"^(test|lint|typecheck|type-check|check|audit)(:[\w:-]+)?$|:(check|lint|test)$"
)
_SERVE_SCRIPT = re.compile(r"^(dev|start|serve|watch):[\w:-]+$")
_PACKAGE_MANAGERS = {"npm", "pnpm", "yarn", "bun"}


def _script(program: str, arg: str) -> str:
    """``pnpm test:e2e`` and ``npm run format:check`` read as ``test``: checks, not changes."""
    if program in _PACKAGE_MANAGERS and _CHECK_SCRIPT.search(arg):
        return "test"
    if program in _PACKAGE_MANAGERS and _SERVE_SCRIPT.search(arg):
        return "dev"
    return arg


def _unwrap(words: list[str]) -> list[str]:
    """Drop ``VAR=x``, ``sudo``, ``env VAR=x``, ``npx`` ...: the program that really runs."""
    words = list(words)
    while words:
        if _ASSIGN.match(words[0]):
            words.pop(0)
        elif words[0] in _WRAPPERS or (words[0] == "env" and len(words) > 1):
            words.pop(0)
            while words and words[0].startswith("-"):
                words.pop(0)
        elif tuple(words[:1]) in _RUNNERS:
            words = words[1:]
        elif tuple(words[:2]) in _RUNNERS:
            words = words[2:]
        else:
            break
    return words


def _simple_class(simple: Simple) -> Class:
    words = _unwrap(simple.words)
    if not words:
        return RO  # only assignments
    rule = rule_for(simple)
    cls = rule.cls if rule is not None else CH
    sql = _sql_of(words, simple)
    if sql is not None and cls < NE:
        cls = sql_class(sql)
    if simple.writes and cls == RO:
        cls = CH
    return cls


def _sql_of(words: list[str], simple: Simple) -> str | None:
    program = words[0].rsplit("/", 1)[-1]
    if program == "psql":
        for flag in ("-c", "--command"):
            if flag in words[:-1]:
                return words[words.index(flag) + 1]
        return simple.heredoc or None
    if program == "mysql" and "-e" in words[:-1]:
        return words[words.index("-e") + 1]
    if program == "sqlite3" and len(words) >= 3 and not words[-1].startswith("-"):
        return words[-1]
    return None


_SQL_READ = {"SelectStmt", "ExplainStmt", "VariableShowStmt"}
_SQL_DESTROY = {"DropStmt", "TruncateStmt", "DeleteStmt", "DropdbStmt", "DropRoleStmt"}
_SQL_WORD = re.compile(r"^\s*(\w+)")


def sql_class(sql: str) -> Class:
    """SELECT/EXPLAIN/SHOW read; DROP/TRUNCATE/DELETE destroy; anything else changes."""
    try:
        kinds = [type(raw.stmt).__name__ for raw in pglast.parse_sql(sql)]
    except Exception:  # pglast raises its own errors and sometimes others on odd input
        kinds = []
        for statement in sql.split(";"):
            word = _SQL_WORD.match(re.sub(r"--[^\n]*", "", statement))
            if word:
                kinds.append(
                    {
                        "select": "SelectStmt",
                        "show": "VariableShowStmt",
                        "explain": "ExplainStmt",
                        "drop": "DropStmt",
                        "truncate": "TruncateStmt",
                        "delete": "DeleteStmt",
                    }.get(word.group(1).lower(), "Other")
                )
    if not kinds:
        return CH
    if any(k in _SQL_DESTROY for k in kinds):
        return DE
    if all(k in _SQL_READ for k in kinds):
        return RO
    return CH


class _Collect(bashlex.ast.nodevisitor):  # type: ignore[misc]
    """Collects the simple commands of a tree, with what feeds their stdin."""

    def __init__(self) -> None:
        self.found: list[Simple] = []
        self.piped: set[int] = set()

    def visitpipeline(self, node: Any, parts: list[Any]) -> None:
        commands = [p for p in parts if p.kind != "pipe"]
        for later in commands[1:]:
            self.piped.add(id(later))

    def visitcommand(self, node: Any, parts: list[Any]) -> None:
        simple = Simple([], stdin=id(node) in self.piped)
        for part in parts:
            if part.kind == "word":
                simple.words.append(part.word)
            elif part.kind == "redirect":
                kind = part.type
                if kind in ("<", "<<", "<<<", "<<-"):
                    simple.stdin = True
                    heredoc = getattr(part, "heredoc", None)
                    if heredoc is not None:
                        simple.heredoc = heredoc.value.rsplit("\n", 1)[0]
                elif kind in (">", ">>", ">|", "&>"):
                    target = part.output
                    word = getattr(target, "word", str(target))
                    if word not in _SAFE_TARGETS:
                        simple.writes = True
        self.found.append(simple)


MAX_PARSE = 20_000
"""Longer texts are read by the shell-word fallback: bashlex's parser is not made for megabytes."""


def parse(text: str) -> list[Simple] | None:
    """The simple commands in a command text, or None when bashlex cannot read it."""
    if len(text) > MAX_PARSE:
        return None
    try:
        trees = bashlex.parse(_neutral(text))
    except Exception:  # bashlex raises ParsingError, NotImplementedError and others
        return None
    collect = _Collect()
    for tree in trees:
        collect.visit(tree)
    return collect.found


def _neutral(text: str) -> str:
    """``<name>`` placeholders and ``${{ }}`` templates as plain words bashlex can read."""
    text = re.sub(r"\$\{\{.*?\}\}", "TEMPLATE", text)
    # bashlex misreads quoted heredoc words (<<'SQL'); quoting only changes expansion
    text = re.sub(r"<<(-?)\s*(['\"])([A-Za-z_][A-Za-z0-9_]*)\2", r"<<\1\3", text)
    return re.sub(r"(?<![<\w])<([A-Za-z][\w-]*)>(?![>\w])", r"PLACEHOLDER_\1", text)


def _fallback(text: str) -> list[Simple]:
    """Shell words of each ``&&``/``||``/``;``/``|`` segment, for what bashlex cannot parse."""
    simples: list[Simple] = []
    for line in _neutral(text).splitlines():
        for segment in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(segment, comments=True)
            except ValueError:
                words = segment.split()
            if words and words[0] not in ("[[", "]]", "then", "fi", "do", "done", "else", "esac"):
                simples.append(Simple(words, stdin="<" in segment))
    return simples


def classify_all(text: str) -> Result:
    """The class of a whole command text and the simple commands it is made of."""
    simples = parse(text)
    parsed = simples is not None
    if simples is None:
        simples = _fallback(text)
    cls = max((_simple_class(s) for s in simples), default=RO)
    if re.search(r"\|\s*(sudo\s+)?(ba|z)?sh\b", text):  # curl … | sh runs what it downloads
        cls = max(cls, CH)
    return Result(cls, simples, parsed)


def classify(text: str) -> Class:
    """The class of a command text (see the module docstring)."""
    return classify_all(text).cls


def known_program(word: str) -> bool:
    """Whether the table names this program (used to tell shell from other code)."""
    name = word.rsplit("/", 1)[-1]
    return any(rule.program == name for rule in RULES) or name in _WRAPPERS
