"""What GitHub tells us about pull requests and commits: signed webhooks and the REST API, into the github_* tables."""
