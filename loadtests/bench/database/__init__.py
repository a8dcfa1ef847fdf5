"""The database stage: DATABASE_URL or a throwaway cluster, migrations, seed data."""
