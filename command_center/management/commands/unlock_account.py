"""Lift the login lock of an account (or a client address) before it runs out."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from command_center.login_guard import Kind, account_unlock, throttle_unlock


class Command(BaseCommand):
    help = (
        "Lift the lock set on an account after too many failed logins, and clear its "
        "failures. With --address, lift the throttle of a client IP address instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", help="the account's username")
        parser.add_argument("--address", help="a client IP address to unthrottle instead")

    def handle(self, *args: Any, **options: Any) -> None:
        by = "manage.py unlock_account"
        if options["address"]:
            target = options["address"]
            lifted = throttle_unlock(kind=Kind.ADDRESS, key=target, by=by)
        elif options["username"]:
            target = options["username"]
            lifted = account_unlock(username=target, by=by)
        else:
            raise CommandError("Give a username, or --address with an IP address.")
        if lifted:
            self.stdout.write(self.style.SUCCESS(f"Unlocked {target}."))
        else:
            self.stdout.write(f"{target} was not locked; its failed logins are cleared.")
