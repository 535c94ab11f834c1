"""Who may use the gateway: accounts, passwords, sessions and tokens, the permission check
every route makes, and the audit log of changes."""
