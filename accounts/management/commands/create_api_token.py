from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken
from pipeline.lib.commands import user_named


class Command(BaseCommand):
    help = "Create an API token for USERNAME. The token is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label to tell tokens apart.")

    def handle(self, *args, **options):
        user = user_named(options["username"])
        try:
            ApiToken._meta.get_field("name").clean(options["name"], None)
        except ValidationError as exc:
            raise CommandError(f"--name: {' '.join(exc.messages)}") from None
        token, raw = ApiToken.objects.issue(user, name=options["name"])
        self.stderr.write(f"Created token {token.prefix}… for {user.username}. It is shown only now:")
        self.stdout.write(raw)
