"""Which cc-analytics org a GitHub repository owner's pull requests and commits belong to, for the webhook and the
REST fetcher alike (--github-orgs, --default-org-id)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrgPolicy:
    org_by_owner: dict[str, str]  # owner login, lower-cased -> org
    default_org_id: str
    # With --auth-tokens an unlisted owner is refused: nothing is put in an org by default.
    owners_must_be_listed: bool = False

    def org_of(self, owner: str) -> str | None:
        """The owner's org; None when it must be listed and is not."""
        return self.org_by_owner.get(owner.lower(), None if self.owners_must_be_listed else self.default_org_id)

    def refused(self, repositories: list[str]) -> list[str]:
        """The owners of OWNER/NAME repositories whose rows may not be stored, sorted."""
        owners = {repository.split("/", 1)[0] for repository in repositories}
        return sorted(owner for owner in owners if self.org_of(owner) is None)
