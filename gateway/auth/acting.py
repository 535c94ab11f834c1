"""Who acts when no one signs in with the request: a scanner wired to a station, an MQTT
command, and a scan that was posted over HTTP and is applied again after a restart.

A wired scanner acts for the account its station is assigned to (`[station_accounts]`), an
MQTT command for `[mqtt] command_account`, a posted scan for the account that posted it. The
accounts live in the accounts store, where an admin may remove or disable one at any time, so
each is looked up when it acts; a missing or disabled account is refused with `ForbiddenError`
naming the setting to fix. What the account may then do is checked by
`gateway.auth.policy.authorize`, as for a signed-in request. At start-up, `problems` says which
assignments would be refused as things stand, for the log: the gateway starts anyway (an admin
may create the account later).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gateway.auth.policy import Action, ForbiddenError, User, authorize
from gateway.storage.accounts import AccountStore
from gateway.storage.scans import StoredScan


class Acting:
    """Finds the account that acts for a scan or an MQTT command."""

    def __init__(
        self,
        accounts: AccountStore,
        stations: Mapping[str, str],
        command_account: str | None = None,
    ) -> None:
        self.accounts = accounts
        self.stations = dict(stations)
        self.command_account = command_account

    def account(self, name: str, assigned_by: str) -> User:
        """The account `name`, if it exists and is enabled; `assigned_by` says where it was
        named, for the fix."""
        found = self.accounts.get(name)
        if found is None:
            raise ForbiddenError(
                f"{assigned_by} acts for account {name!r}, which does not exist; fix: create "
                f"it (`coldchain accounts add {name} --role ROLE`) or name another account"
            )
        if found.disabled:
            raise ForbiddenError(
                f"{assigned_by} acts for account {name!r}, which is disabled; fix: enable it "
                "or name another account"
            )
        return found.user()

    def for_scan(self, stored: StoredScan) -> User:
        """The account a scan acts for: its poster, or the station's assigned account."""
        station = stored.scan.station
        if stored.account is not None:
            return self.account(stored.account, f"the scan posted at station {station}")
        name = self.stations.get(station)
        if name is None:
            raise ForbiddenError(
                f"the scanner at station {station} is assigned to no account, so its scans "
                f'change nothing; fix: add {station} = "ACCOUNT" under [station_accounts]'
            )
        return self.account(name, f"station {station} ([station_accounts])")

    def for_commands(self) -> User:
        """The account MQTT commands act for."""
        if self.command_account is None:
            raise ForbiddenError(
                "MQTT commands act for an account, and none is configured; fix: set "
                '[mqtt] command_account = "ACCOUNT" (an account with the rights the commands '
                "need)"
            )
        return self.account(self.command_account, "[mqtt] command_account")

    def problems(self, needs: Mapping[str, Action]) -> list[str]:
        """Why scans at an assigned station, or MQTT commands, would be refused now: a missing
        or disabled account, or one that may not do what its station does (`needs`: station ->
        the action a scan there needs)."""
        return list(self._problems(needs))

    def _problems(self, needs: Mapping[str, Action]) -> Iterator[str]:
        named = [(station, f"station {station} ([station_accounts])", account)
                 for station, account in sorted(self.stations.items())]  # fmt: skip
        if self.command_account is not None:
            named.append(("", "[mqtt] command_account", self.command_account))
        for station, where, account in named:
            try:
                user = self.account(account, where)
            except ForbiddenError as error:
                yield str(error)
                continue
            if station in needs:
                try:
                    authorize(user, needs[station])
                except ForbiddenError as error:
                    yield (
                        f"{where}: {error}, so scans there are refused; fix: assign an account "
                        f"that may {needs[station]}"
                    )
