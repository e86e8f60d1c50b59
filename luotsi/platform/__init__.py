"""What every tenant shares: settings, database and tenancy, identity, mail, signup."""
